"""A backbone the user brings (embed.weights, embed.ssl): checked first, used as told."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
import torchvision
import yaml
from conftest import REPO

from bps_labeler.data.convert import Stretch, convert_shard
from bps_labeler.embeddings.backbone import BACKBONES, features_of_files, load_backbone, make_backbone, read_backbone
from bps_labeler.embeddings.simclr import EmbedSpec, train_embeddings
from bps_labeler.errors import InputError


@pytest.fixture(scope="module")
def jpgs(tiny_dataset, tmp_path_factory):
    raw, _, meta = tiny_dataset
    out = tmp_path_factory.mktemp("jpg")
    manifest = convert_shard(meta.iloc[:24], 0, 1, raw, out, Stretch())
    return out, sorted(manifest["filename"].tolist())


def torchvision_file(tmp_path, name="resnet18", seed=5):
    """A weights file as torchvision saves one (its fc classifier included), like an ImageNet download."""
    torch.manual_seed(seed)
    path = tmp_path / f"{name}-weights.pth"
    torch.save(getattr(torchvision.models, name)(weights=None).state_dict(), path)
    return path


def test_ssl_none_embeds_with_the_weights_as_they_are_and_records_them(jpgs, tmp_path, caplog):
    image_dir, names = jpgs
    weights = torchvision_file(tmp_path)
    spec = EmbedSpec(input_size=32, dim=4, weights=str(weights), ssl="none")
    with caplog.at_level("INFO"):
        train_embeddings(image_dir, names, spec, tmp_path / "e.csv", tmp_path / "b.pt")
    assert "no SimCLR" in caplog.text and "SimCLR on" not in caplog.text
    net, saved = load_backbone(tmp_path / "b.pt")
    brought, _ = make_backbone("resnet18")
    state = {k: v for k, v in torch.load(weights).items() if not k.startswith("fc.")}
    brought.load_state_dict(state)
    for k, v in brought.state_dict().items():  # the saved backbone is the file's, untrained
        assert torch.equal(v, net.state_dict()[k]), k
    a = features_of_files(net, image_dir, names[:5], 32, True)
    b = features_of_files(brought, image_dir, names[:5], 32, True)
    np.testing.assert_allclose(a, b, atol=1e-6)
    p = read_backbone(tmp_path / "b.pt")["provenance"]
    assert p["ssl"] == "none" and p["ssl_epochs"] == 0 and p["weights"] == str(weights)
    assert p["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()


def test_finetune_starts_simclr_from_an_earlier_runs_backbone(jpgs, tmp_path):
    image_dir, names = jpgs
    first = EmbedSpec(input_size=32, epochs=1, batch_size=8, dim=4)
    train_embeddings(image_dir, names, first, tmp_path / "e1.csv", tmp_path / "earlier.pt")
    spec = EmbedSpec(input_size=32, epochs=1, batch_size=8, dim=4, weights=str(tmp_path / "earlier.pt"), ssl="finetune")
    train_embeddings(image_dir, names, spec, tmp_path / "e2.csv", tmp_path / "b.pt")
    p = read_backbone(tmp_path / "b.pt")["provenance"]
    assert p["ssl"] == "finetune" and p["ssl_epochs"] == 1 and p["weights_kind"].startswith("backbone.pt")
    before, _ = load_backbone(tmp_path / "earlier.pt")
    after, _ = load_backbone(tmp_path / "b.pt")
    assert not torch.equal(before.conv1.weight, after.conv1.weight)  # SimCLR moved on from it


def test_a_file_of_another_architecture_is_refused_in_one_line_before_training(jpgs, tmp_path):
    image_dir, names = jpgs
    spec = EmbedSpec(input_size=32, dim=4, weights=str(torchvision_file(tmp_path, "resnet34")), ssl="none")
    with pytest.raises(InputError) as err:
        train_embeddings(image_dir, names, spec, tmp_path / "e.csv", tmp_path / "b.pt")
    said = str(err.value)
    assert "does not fit a resnet18" in said and "not in a resnet18: layer1.2" in said and "\n" not in said
    assert not (tmp_path / "b.pt").exists()
    mine = tmp_path / "ours.pt"
    torch.save({"backbone": "resnet50", "state_dict": {}, "input_size": 32, "foci_channel": True}, mine)
    with pytest.raises(InputError, match="is a resnet50 backbone of this pipeline, but embed.backbone is resnet18"):
        train_embeddings(
            image_dir, names, EmbedSpec(weights=str(mine), ssl="none"), tmp_path / "e.csv", tmp_path / "b.pt"
        )
    (tmp_path / "junk.pt").write_text("not torch")
    with pytest.raises(InputError, match="is not a PyTorch weights file"):
        train_embeddings(
            image_dir,
            names,
            EmbedSpec(weights=str(tmp_path / "junk.pt"), ssl="none"),
            tmp_path / "e.csv",
            tmp_path / "b.pt",
        )


def test_the_config_schema_allows_exactly_the_networks_the_code_builds():
    """The schema refuses a name before any job; make_backbone only builds what it knows."""
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert schema["properties"]["embed"]["properties"]["backbone"]["enum"] == list(BACKBONES)


@pytest.mark.parametrize(("name", "width"), [("shufflenet_v2_x1_0", 1024), ("mobilenet_v3_small", 576)])
def test_a_smaller_backbone_takes_torchvision_weights_without_their_classifier(jpgs, tmp_path, name, width):
    """The small networks keep their ImageNet classifier under another name (`classifier` for
    MobileNet): a file saved by torchvision loads with it dropped, SimCLR moves on from it, and the
    saved backbone gives features as wide as the network's last layer."""
    image_dir, names = jpgs
    weights = torchvision_file(tmp_path, name)
    spec = EmbedSpec(input_size=32, epochs=1, batch_size=8, dim=4, backbone=name, weights=str(weights), ssl="finetune")
    train_embeddings(image_dir, names, spec, tmp_path / "e.csv", tmp_path / "b.pt")
    net, saved = load_backbone(tmp_path / "b.pt")
    assert saved["backbone"] == name and saved["provenance"]["weights_kind"] == "torchvision state_dict"
    brought = {k: v for k, v in torch.load(weights).items() if k in net.state_dict()}
    moved = [k for k, v in brought.items() if v.is_floating_point() and not torch.equal(v, net.state_dict()[k])]
    assert len(brought) == len(net.state_dict()) and moved  # every tensor came from the file, then trained
    assert features_of_files(net, image_dir, names[:3], 32, True).shape == (3, width)
    with pytest.raises(InputError, match=f"does not fit a {name}"):  # a ResNet's file is refused
        train_embeddings(
            image_dir,
            names,
            EmbedSpec(input_size=32, dim=4, backbone=name, weights=str(torchvision_file(tmp_path)), ssl="none"),
            tmp_path / "e2.csv",
            tmp_path / "b2.pt",
        )


@pytest.mark.parametrize(
    ("weights", "ssl", "said"),
    [
        (None, "none", "embed.ssl is none but embed.weights is not set"),
        (None, "finetune", "embed.ssl is finetune but embed.weights is not set"),
        ("w.pth", "scratch", "but embed.ssl is scratch (random weights, the file unused)"),
    ],
)
def test_ssl_and_weights_must_agree(tmp_path, weights, ssl, said):
    with pytest.raises(InputError, match=said.replace("(", r"\(").replace(")", r"\)")):
        train_embeddings(
            tmp_path, ["a.jpg"], EmbedSpec(weights=weights, ssl=ssl), tmp_path / "e.csv", tmp_path / "b.pt"
        )


def test_bf16_trains_in_bfloat16_and_channels_last_and_saves_the_usual_layout(jpgs, tmp_path, caplog):
    """embed.precision: bf16-mixed runs SimCLR's steps in bfloat16 (the loss is computed from
    bfloat16 activations), records it, and leaves a backbone that loads and embeds as any."""
    image_dir, names = jpgs
    spec = EmbedSpec(input_size=32, epochs=1, batch_size=8, dim=4, precision="bf16-mixed")
    seen = []

    def conv(module, _, out):
        if isinstance(module, torch.nn.Conv2d):
            seen.append((out.dtype, out.is_contiguous()))

    hook = torch.nn.modules.module.register_module_forward_hook(conv)
    try:
        with caplog.at_level("INFO"):
            train_embeddings(image_dir, names, spec, tmp_path / "e.csv", tmp_path / "b.pt")
    finally:
        hook.remove()
    assert "bfloat16 mixed precision, channels-last" in caplog.text
    assert (torch.bfloat16, False) in seen  # the training convolutions: bfloat16, channels-last
    assert seen[-1] == (torch.float32, True)  # the embedding pass after training: float32 as usual
    assert read_backbone(tmp_path / "b.pt")["provenance"]["ssl_precision"] == "bf16-mixed"
    net, _ = load_backbone(tmp_path / "b.pt")
    assert all(v.is_contiguous() for v in net.state_dict().values())


def test_auto_precision_follows_the_cpus_bfloat16(tmp_path, monkeypatch):
    from bps_labeler.utils import accelerator

    with_bf16, without = tmp_path / "zen4", tmp_path / "old"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n")
    without.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n")
    assert accelerator.cpu_has_bf16(with_bf16) and not accelerator.cpu_has_bf16(without)
    assert not accelerator.cpu_has_bf16(tmp_path / "missing")
    monkeypatch.setattr(accelerator, "cpu_has_bf16", lambda: True)
    assert accelerator.training_precision("auto", "cpu") == "bf16-mixed"
    monkeypatch.setattr(accelerator, "cpu_has_bf16", lambda: False)
    assert accelerator.training_precision("auto", "cpu") == "32-true"
    assert accelerator.training_precision(32, "cpu") == accelerator.training_precision("32", "cpu") == "32-true"
    assert accelerator.training_precision("bf16-mixed", "cpu") == "bf16-mixed"
