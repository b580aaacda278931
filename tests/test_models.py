"""Embedding and classifier on a handful of tiny images: formats and plumbing, not accuracy."""

import numpy as np
import pytest
import torch

from bps_labeler.data.convert import Stretch, convert_shard
from bps_labeler.data.images import foci_map, load_images
from bps_labeler.embeddings.backbone import eval_transform, load_backbone
from bps_labeler.embeddings.io import read_embeddings
from bps_labeler.embeddings.simclr import EmbedSpec, train_embeddings
from bps_labeler.errors import InputError
from bps_labeler.labeling.annotations import read_truth
from bps_labeler.models.classifier import TrainSpec, train
from bps_labeler.models.foci import image_features
from bps_labeler.models.metrics import metrics
from bps_labeler.models.network import TrackNet, load_network, predict_proba

CATS = ("track", "no track")


@pytest.fixture(scope="module")
def jpgs(tiny_dataset, tmp_path_factory):
    raw, truth, meta = tiny_dataset
    out = tmp_path_factory.mktemp("jpg")
    manifest = convert_shard(meta, 0, 1, raw, out, Stretch())
    return out, manifest["filename"].tolist(), read_truth(truth)


@pytest.fixture(scope="module")
def embedded(jpgs, tmp_path_factory):
    image_dir, names, _ = jpgs
    out = tmp_path_factory.mktemp("emb")
    spec = EmbedSpec(input_size=32, epochs=1, batch_size=16, dim=8)
    df = train_embeddings(image_dir, names, spec, out / "embeddings.csv", out / "backbone.pt")
    return out, df


def test_embeddings_csv_is_lightly_format(jpgs, embedded):
    _, names, _ = jpgs
    out, df = embedded
    header = (out / "embeddings.csv").read_text().splitlines()[0].split(",")
    assert header == ["filenames"] + [f"embedding_{i}" for i in range(8)] + ["labels"]
    files, emb = read_embeddings(out / "embeddings.csv")
    assert files == sorted(names) and emb.shape == (len(names), 8)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)


def test_embeddings_are_reproducible(jpgs, embedded, tmp_path):
    image_dir, names, _ = jpgs
    out, _ = embedded
    spec = EmbedSpec(input_size=32, epochs=1, batch_size=16, dim=8)
    train_embeddings(image_dir, names, spec, tmp_path / "e.csv", tmp_path / "b.pt")
    assert (tmp_path / "e.csv").read_bytes() == (out / "embeddings.csv").read_bytes()


def test_more_dimensions_than_the_pca_can_give_says_so(jpgs, tmp_path, caplog):
    image_dir, names, _ = jpgs
    spec = EmbedSpec(input_size=32, epochs=1, batch_size=16, dim=500)
    with caplog.at_level("WARNING"):
        df = train_embeddings(image_dir, names[:40], spec, tmp_path / "e.csv", tmp_path / "b.pt")
    n_dims = sum(c.startswith("embedding_") for c in df.columns)
    assert n_dims < 500
    assert f"embed.dim is 500, but the embeddings have {n_dims} dimensions" in caplog.text


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_asked_for_on_a_machine_without_one_is_one_line(jpgs, tmp_path):
    image_dir, names, _ = jpgs
    spec = EmbedSpec(input_size=32, epochs=1, batch_size=16, dim=8, accelerator="gpu")
    with pytest.raises(InputError, match="accelerator is 'gpu', but .* has no GPU that PyTorch can use"):
        train_embeddings(image_dir, names, spec, tmp_path / "e.csv", tmp_path / "b.pt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a GPU")
def test_predicting_on_a_gpu_a_machine_lacks_is_one_line_and_cpu_is_the_default():
    from bps_labeler.utils.accelerator import torch_device

    assert torch_device("cpu") == "cpu"
    with pytest.raises(InputError, match="accelerator is 'gpu', but .* has no GPU that PyTorch can use"):
        torch_device("gpu")


def test_nan_embeddings_are_refused(tmp_path):
    (tmp_path / "e.csv").write_text("filenames,embedding_0,labels\na.jpg,nan,0\nb.jpg,0.1,0\n")
    with pytest.raises(ValueError, match=r"NaN for 1 image\(s\), e.g. \['a.jpg'\]"):
        read_embeddings(tmp_path / "e.csv")


def test_classifier_trains_saves_loads_and_predicts(jpgs, embedded, tmp_path):
    image_dir, names, truth = jpgs
    out, _ = embedded
    labels = {n: truth[n] for n in names[:20]}
    model = train(
        image_dir, labels, out / "backbone.pt", CATS, TrainSpec(epochs=1, batch_size=8), tmp_path / "model.ckpt"
    )
    probs = predict_proba(model, image_dir, names[20:30])
    assert probs.shape == (10, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    again = predict_proba(load_network(tmp_path / "model.ckpt"), image_dir, names[20:30])
    np.testing.assert_allclose(again, probs, rtol=1e-5)  # the checkpoint holds the whole model
    assert load_network(tmp_path / "model.ckpt").categories == CATS
    saved = torch.load(tmp_path / "model.ckpt", map_location="cpu", weights_only=True)
    assert "optimizer_states" not in saved  # Adam's moments would triple every round's file
    weights = sum(t.numel() * t.element_size() for t in saved["state_dict"].values())
    assert (tmp_path / "model.ckpt").stat().st_size < 1.2 * weights


def test_a_checkpoint_from_before_the_faint_and_radon_features_reads_its_five(jpgs):
    image_dir, names, _ = jpgs
    net = TrackNet("resnet18", CATS, 32, True, n_extra=5).eval()  # as trained on the first five
    probs = predict_proba(net, image_dir, names[:4])
    images = load_images(image_dir, names[:4], 32, True)
    x = torch.stack([eval_transform()(im) for im in images])
    extra = torch.as_tensor(image_features(image_dir, names[:4])[:, :5], dtype=torch.float32)
    with torch.no_grad():
        expected = torch.softmax(net(x, extra), dim=1).numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-5)


def test_backbone_records_its_input_and_the_classifier_follows_it(jpgs, embedded, tmp_path):
    image_dir, names, truth = jpgs
    out, _ = embedded
    _, made = load_backbone(out / "backbone.pt")
    assert (made["backbone"], made["input_size"], made["foci_channel"]) == ("resnet18", 32, True)
    plain = EmbedSpec(input_size=32, epochs=1, batch_size=16, dim=8, foci_channel=False)
    train_embeddings(image_dir, names, plain, tmp_path / "e.csv", tmp_path / "plain.pt")
    assert load_backbone(tmp_path / "plain.pt")[1]["foci_channel"] is False
    labels = {n: truth[n] for n in names[:12]}
    for backbone, foci in ((out / "backbone.pt", True), (tmp_path / "plain.pt", False)):
        train(image_dir, labels, backbone, CATS, TrainSpec(epochs=1, batch_size=8), tmp_path / "m.ckpt")
        assert load_network(tmp_path / "m.ckpt").foci_channel is foci
        assert load_network(tmp_path / "m.ckpt").input_size == 32  # the backbone's, not an argument


def test_classifier_refuses_a_backbone_that_does_not_record_its_input(jpgs, embedded, tmp_path):
    image_dir, names, truth = jpgs
    out, _ = embedded
    saved = torch.load(out / "backbone.pt", weights_only=True)
    old = {"backbone": saved["backbone"], "state_dict": saved["state_dict"]}  # as saved before the foci channel
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(InputError, match=r"old.pt: this backbone was saved before .* rerun the embed rule"):
        train(image_dir, {n: truth[n] for n in names[:4]}, tmp_path / "old.pt", CATS, TrainSpec(), tmp_path / "m.ckpt")


def test_foci_map_keeps_small_spots_and_drops_smooth_signal():
    yy, xx = np.mgrid[0:64, 0:64]
    img = (60 + 2 * xx + 40 * np.exp(-((yy - 32) ** 2 + (xx - 32) ** 2) / 400)).astype(np.float32)
    img[20:22, 40:42] += 50  # one focus, 2 px wide
    hat = foci_map(np.clip(img, 0, 255).astype(np.uint8))
    assert hat[20:22, 40:42].min() >= 90  # the focus, doubled
    hat[18:24, 38:44] = 0
    assert hat.max() <= 10  # the ramp and the broad nucleus are (nearly) gone


def test_foci_channel_images_carry_the_image_and_its_foci(jpgs):
    image_dir, names, _ = jpgs
    plain = np.asarray(load_images(image_dir, names[:1], 32)[0])
    both = np.asarray(load_images(image_dir, names[:1], 32, foci_channel=True)[0])
    assert plain.shape == both.shape == (32, 32, 3)
    np.testing.assert_array_equal(both[..., 0], plain[..., 0])
    np.testing.assert_array_equal(both[..., 1], foci_map(plain[..., 0]))
    np.testing.assert_array_equal(both[..., 1], both[..., 2])
    # decoded on two threads: the same images, in the order asked for
    threaded = load_images(image_dir, names[::-1], 32, foci_channel=True, threads=2)
    serial = load_images(image_dir, names[::-1], 32, foci_channel=True)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(threaded, serial, strict=True))


def test_training_without_labels_says_so(jpgs, embedded, tmp_path):
    image_dir, _, _ = jpgs
    out, _ = embedded
    files = ("results/round_1/annotations.json",)
    with pytest.raises(InputError, match="no labeled images to train on: results/round_1/annotations.json hold"):
        train(image_dir, {}, out / "backbone.pt", CATS, TrainSpec(), tmp_path / "m.ckpt", label_files=files)


def test_metrics():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    m = metrics(probs, [0, 1, 1, 1], CATS)
    assert m["accuracy"] == 0.75 and m["balanced_accuracy"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-6)
    assert m["auroc"] == 1.0 and m["confusion_matrix"] == [[1, 0], [1, 2]] and m["n_val"] == 4
    assert metrics(probs[:2], [0, 0], CATS)["auroc"] is None  # undefined with one class
    # a perfect ranking with its threshold off: what the ranking allows is 1.0, the model 0.75
    assert m["best_threshold_balanced_accuracy"] == 1.0


def test_a_pool_is_embedded_and_predicted_a_chunk_at_a_time_with_the_same_results(
    jpgs, embedded, tmp_path, monkeypatch
):
    """At 60,000 images the pool cannot sit in memory: chunks must give what one pass gives."""
    import bps_labeler.data.images as images_mod
    from bps_labeler.embeddings.backbone import features, features_of_files

    image_dir, names, truth = jpgs
    out, _ = embedded
    net, saved = load_backbone(out / "backbone.pt")
    whole = features(net, load_images(image_dir, names, saved["input_size"], saved["foci_channel"]))
    model = train(
        image_dir,
        {n: truth[n] for n in names[:20]},
        out / "backbone.pt",
        CATS,
        TrainSpec(epochs=1),
        tmp_path / "m.ckpt",
    )
    probs = predict_proba(model, image_dir, names)
    loaded: list[int] = []
    real_load = images_mod.load_images

    def counting_load(image_dir, filenames, *args, **kwargs):
        loaded.append(len(filenames))
        return real_load(image_dir, filenames, *args, **kwargs)

    monkeypatch.setattr(images_mod, "CHUNK", 7)
    monkeypatch.setattr(images_mod.chunks, "__defaults__", (7,))
    monkeypatch.setattr("bps_labeler.embeddings.backbone.load_images", counting_load)
    monkeypatch.setattr("bps_labeler.models.network.load_images", counting_load)
    chunked = features_of_files(net, image_dir, names, saved["input_size"], saved["foci_channel"])
    np.testing.assert_allclose(chunked, whole, rtol=1e-4, atol=1e-5)
    assert max(loaded) == 7 and sum(loaded) == len(names)  # never more than a chunk decoded at once
    loaded.clear()
    np.testing.assert_allclose(predict_proba(model, image_dir, names), probs, rtol=1e-4, atol=1e-6)
    assert max(loaded) == 7 and sum(loaded) == len(names)


def test_simclr_trains_on_a_seeded_sample_and_embeds_every_image(jpgs, tmp_path, caplog):
    from bps_labeler.embeddings.simclr import training_sample

    image_dir, names, _ = jpgs
    names = sorted(names)
    assert training_sample(names, None, 0) == names == training_sample(names, len(names), 0)
    sample = training_sample(names, 16, 3)
    assert len(sample) == 16 and sample == sorted(sample) and set(sample) < set(names)
    assert sample == training_sample(names, 16, 3) != training_sample(names, 16, 4)
    spec = EmbedSpec(input_size=32, epochs=1, batch_size=8, dim=4, train_images=16)
    with caplog.at_level("INFO"):
        df = train_embeddings(image_dir, names, spec, tmp_path / "e.csv", tmp_path / "b.pt")
    assert sorted(df["filenames"]) == names  # every image embedded, not only the sample
    assert f"a sample of 16 of the {len(names)} images" in caplog.text


def test_a_full_disk_while_saving_a_model_is_one_line_and_leaves_no_half_file(small_disk):
    """PyTorch says "unexpected pos 576 vs 534" when the disk fills up; the user reads why."""
    from bps_labeler.utils.files import write_or_explain

    weights = {"w": torch.zeros(100_000)}  # 400 kB: more than the disk holds
    with pytest.raises(InputError, match=r"small: the disk is full \(writing backbone.pt\)"):
        write_or_explain(small_disk / "backbone.pt", lambda path: torch.save(weights, path))
    assert not (small_disk / "backbone.pt").exists()
    write_or_explain(small_disk / "ok.pt", lambda path: torch.save({"w": torch.zeros(10)}, path))  # room for this
    assert torch.load(small_disk / "ok.pt")["w"].shape == (10,)


def test_a_cross_validated_threshold_is_what_the_checkpoint_keeps(jpgs, embedded, tmp_path, caplog):
    image_dir, names, truth = jpgs
    out, _ = embedded
    labels = {n: truth[n] for n in names[:24]}
    assert min(sum(v == c for v in labels.values()) for c in CATS) >= 2
    spec = TrainSpec(epochs=1, batch_size=8, threshold="cross_validated")
    with caplog.at_level("INFO"):
        model = train(image_dir, labels, out / "backbone.pt", CATS, spec, tmp_path / "cv.ckpt")
    assert "threshold" in caplog.text and "out-of-fold" in caplog.text
    plain = train(image_dir, labels, out / "backbone.pt", CATS, TrainSpec(epochs=1, batch_size=8), tmp_path / "a.ckpt")
    assert not torch.equal(model.head.bias, plain.head.bias)  # the head was refitted
    probs = predict_proba(model, image_dir, names[24:34])
    saved = predict_proba(load_network(tmp_path / "cv.ckpt"), image_dir, names[24:34])
    np.testing.assert_allclose(saved, probs, rtol=1e-5)
