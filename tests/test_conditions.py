"""The condition (dose, hours) as input to the classifier's head: levels, one-hot columns, and a
model that must read them to be right."""

import numpy as np
import pandas as pd
import pytest

from bps_labeler.data.convert import Stretch, convert_shard
from bps_labeler.embeddings.simclr import EmbedSpec, train_embeddings
from bps_labeler.errors import InputError
from bps_labeler.models.classifier import TrainSpec, train
from bps_labeler.models.conditions import by_image, condition_features, condition_levels, level_text
from bps_labeler.models.network import load_network, predict_proba
from bps_labeler.models.portable import card_facts, export_model, read_conditions
from bps_labeler.models.portable import main as predict_main

CATS = ("track", "no track")


def test_a_level_has_one_spelling_whatever_the_csv_reader_made_of_it():
    assert level_text(0.82) == level_text("0.820000") == level_text(np.float64(0.8200)) == "0.82"
    assert level_text(48) == level_text("48") == level_text(48.0) == "48"
    assert level_text("Fe") == "Fe"


def test_only_columns_with_two_levels_among_the_labels_are_read():
    meta = pd.DataFrame(
        {"dose_Gy": [0.82, 0.82, 0.3], "hr_post_exposure": [4, 4, 48], "particle_type": ["Fe"] * 3},
        index=["a.jpg", "b.jpg", "c.jpg"],
    )
    assert condition_levels(meta, ["a.jpg", "b.jpg"], ["hr_post_exposure", "dose_Gy"]) == []
    levels = condition_levels(meta, ["a.jpg", "b.jpg", "c.jpg"], ["hr_post_exposure", "dose_Gy", "particle_type"])
    assert levels == [("hr_post_exposure", ["4", "48"]), ("dose_Gy", ["0.3", "0.82"])]
    with pytest.raises(KeyError, match="ion"):
        condition_levels(meta, ["a.jpg"], ["ion"])


def test_one_hot_columns_and_zeros_for_what_the_labels_never_had():
    levels = [("hr_post_exposure", ["4", "48"]), ("dose_Gy", ["0.3", "0.82"])]
    meta = pd.DataFrame(
        {"dose_Gy": ["0.820000", 0.3, 1.0], "hr_post_exposure": [48, 4, 24]}, index=["a.jpg", "b.jpg", "c.jpg"]
    )
    x = condition_features(meta, ["a.jpg", "b.jpg", "c.jpg", "unknown.jpg"], levels)
    np.testing.assert_array_equal(x, [[0, 1, 0, 1], [1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert condition_features(None, ["a.jpg"], levels).tolist() == [[0, 0, 0, 0]]
    assert condition_features(meta, ["a.jpg"], []).shape == (1, 0)


@pytest.fixture(scope="module")
def made(tiny_dataset, tmp_path_factory):
    """Tiny images, their backbone, and a made-up condition that alone decides the label: the
    images say nothing about it, so only a head that reads the condition can be right."""
    raw, _, meta = tiny_dataset
    out = tmp_path_factory.mktemp("conditions")
    manifest = convert_shard(meta, 0, 1, raw, out / "jpg", Stretch())
    names = manifest["filename"].tolist()
    train_embeddings(
        out / "jpg", names, EmbedSpec(input_size=32, epochs=1, batch_size=16, dim=8), out / "e.csv", out / "b.pt"
    )
    rows = meta.assign(hr_post_exposure=[48 if i % 2 else 4 for i in range(len(meta))], dose_Gy=0.82)
    return out, names, rows


def test_a_head_that_reads_the_condition_learns_what_only_the_condition_says(made, tmp_path, capsys):
    out, names, rows = made
    conditions = by_image(rows)
    labels = {n: "track" if conditions.loc[n, "hr_post_exposure"] == 48 else "no track" for n in names}
    fit, held = names[:40], names[40:]
    spec = TrainSpec(epochs=5, batch_size=8, condition_features=("hr_post_exposure", "dose_Gy"))
    model = train(
        out / "jpg", {n: labels[n] for n in fit}, out / "b.pt", CATS, spec, tmp_path / "m.ckpt", conditions=conditions
    )
    assert model.condition_levels == [("hr_post_exposure", ["4", "48"])]  # one dose: left out
    probs = predict_proba(model, out / "jpg", held, conditions=conditions)
    # the same images said to be of the other time point: each one's answer moves with it
    swapped = conditions.assign(hr_post_exposure=conditions["hr_post_exposure"].map({4: 48, 48: 4}))
    other = predict_proba(model, out / "jpg", held, conditions=swapped)
    late = np.array([conditions.loc[n, "hr_post_exposure"] == 48 for n in held])
    shift = np.where(late, probs[:, 0] - other[:, 0], other[:, 0] - probs[:, 0])
    assert (shift > 0).all() and shift.mean() > 0.2, shift
    called = [CATS[k] for k in probs.argmax(axis=1)]
    assert np.mean([c == labels[n] for c, n in zip(called, held)]) >= 0.8
    # the checkpoint keeps the levels; without metadata the condition shifts nothing
    again = load_network(tmp_path / "m.ckpt")
    np.testing.assert_allclose(predict_proba(again, out / "jpg", held, conditions=conditions), probs, rtol=1e-5)
    blind = predict_proba(again, out / "jpg", held)
    assert not np.allclose(blind, probs, atol=1e-3)

    # the exported program answers the same from the JPGs and a meta.csv
    export = tmp_path / "export"
    export_model(tmp_path / "m.ckpt", Stretch(), card_facts({}, {}, "m.ckpt"), export)
    rows.to_csv(tmp_path / "meta.csv", index=False)
    paths = [str(out / "jpg" / n) for n in held]
    assert predict_main([str(export), *paths, "-o", str(tmp_path / "a.csv"), "--meta", str(tmp_path / "meta.csv")]) == 0
    table = pd.read_csv(tmp_path / "a.csv")
    np.testing.assert_allclose(table["p_track"], probs[:, 0], rtol=1e-4, atol=1e-6)
    assert predict_main([str(export), *paths, "-o", str(tmp_path / "b.csv")]) == 0  # no meta: the image alone
    np.testing.assert_allclose(pd.read_csv(tmp_path / "b.csv")["p_track"], blind[:, 0], rtol=1e-4, atol=1e-6)
    assert "this model reads the condition (hr_post_exposure); without --meta" in capsys.readouterr().out
    assert "hr_post_exposure ['4', '48']" in (export / "MODEL_CARD.md").read_text()


def test_condition_features_without_metadata_or_with_an_unlisted_image_say_what_to_do(made, tmp_path):
    out, names, rows = made
    labels = dict.fromkeys(names[:10], "track") | dict.fromkeys(names[10:20], "no track")
    spec = TrainSpec(epochs=0, condition_features=("hr_post_exposure",))
    with pytest.raises(InputError, match=r"train.condition_features \['hr_post_exposure'\]: no metadata"):
        train(out / "jpg", labels, out / "b.pt", CATS, spec, tmp_path / "m.ckpt")
    partial = by_image(rows).drop(index=names[3])
    with pytest.raises(InputError, match=rf"1 labeled image\(s\) not in the metadata, e.g. \['{names[3]}'\]"):
        train(out / "jpg", labels, out / "b.pt", CATS, spec, tmp_path / "m.ckpt", conditions=partial)
    with pytest.raises(InputError, match=r"meta.csv: missing column\(s\) hr_post_exposure"):
        rows.drop(columns="hr_post_exposure").to_csv(tmp_path / "meta.csv", index=False)
        read_conditions(tmp_path / "meta.csv", [("hr_post_exposure", ["4", "48"])])
