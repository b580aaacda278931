"""Baselines beside every figure: the metadata rule, the majority class, the undecided subset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bps_labeler.evaluation.baselines import majority_class, with_baselines
from bps_labeler.labeling.annotations import filename_of
from bps_labeler.labeling.known_answers import (
    KnownAnswer,
    conflicts,
    known_labels,
    parse,
    rule_probabilities,
    rule_records,
    training_sample,
)

CATS = ("track", "no track")
DEFAULT = parse([{"particle_types": ["X-ray"], "label": "no track"}, {"dose_max": 0, "label": "no track"}])


def meta() -> pd.DataFrame:
    rows = [
        ("a.tif", 0.82, "Fe", 4),
        ("b.tif", 0.0, "Fe", 4),
        ("c.tif", 1.0, "X-ray", 4),
        ("d.tif", 0.3, "Fe", 24),
        ("e.tif", 0.0, "X-ray", 48),
    ]
    return pd.DataFrame(rows, columns=["filename", "dose_Gy", "particle_type", "hr_post_exposure"])


def test_the_condition_decides_xrays_and_sham_exposures_only():
    known = known_labels(meta(), DEFAULT)
    assert known.to_dict() == {
        "a.jpg": None,
        "b.jpg": "no track",
        "c.jpg": "no track",
        "d.jpg": None,
        "e.jpg": "no track",
    }
    assert known_labels(meta(), []).isna().all()  # switched off: everything is undecided
    first = known_labels(
        meta(), [KnownAnswer("track", particle_types=("Fe",), hours=(24,)), KnownAnswer("no track", dose_max=0.5)]
    )
    assert first["d.jpg"] == "track" and first["b.jpg"] == "no track" and first["a.jpg"] is None


def test_the_rule_bets_on_tracks_where_the_condition_can_leave_them():
    known = known_labels(meta(), DEFAULT)
    probs = rule_probabilities(known, CATS, "track")
    assert [CATS[i] for i in probs.argmax(axis=1)] == ["track", "no track", "no track", "track", "no track"]


def test_scores_beside_baselines_overall_and_on_the_undecided():
    # six validation images: three known (no track), three undecided (two tracks, one not)
    names = ["k1.jpg", "k2.jpg", "k3.jpg", "u1.jpg", "u2.jpg", "u3.jpg"]
    truth = {
        "k1.jpg": "no track",
        "k2.jpg": "no track",
        "k3.jpg": "no track",
        "u1.jpg": "track",
        "u2.jpg": "track",
        "u3.jpg": "no track",
    }
    known = pd.Series(["no track"] * 3 + [None] * 3, index=names, dtype=object)
    # a model right on every undecided image and wrong on one known one
    model = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.8, 0.2], [0.7, 0.3], [0.4, 0.6]])
    out = with_baselines(names, model, truth, known, rule_probabilities(known, CATS, "track"), "no track", CATS)
    und = out["undecided"]
    assert out["n_known"] == 3 and und["n_val"] == 3
    assert und["model"]["balanced_accuracy"] == 1.0 and und["model"]["auroc"] == 1.0
    assert und["metadata_rule"]["accuracy"] == pytest.approx(2 / 3)  # "track" for all three: right on two
    assert und["majority"]["accuracy"] == pytest.approx(1 / 3)  # "no track" for all: right on one
    overall = out["overall"]
    assert overall["metadata_rule"]["accuracy"] == pytest.approx(5 / 6)  # wrong only on u3
    assert overall["model"]["accuracy"] == pytest.approx(5 / 6)  # wrong only on k1
    assert overall["metadata_rule"]["confusion_matrix"] == [[2, 0], [1, 3]]
    assert overall["model_and_rule"]["accuracy"] == 1.0  # the rule fixes the model's known miss


def test_majority_counts_the_labels_so_far():
    assert majority_class({"a": "no track", "b": "no track", "c": "track"}, CATS) == "no track"
    assert majority_class({"a": "track"}, CATS) == "track"


def test_rule_records_say_they_came_from_the_rule_and_which_one():
    records = rule_records(meta(), DEFAULT, "results/data/images")
    assert [filename_of(r["image"]) for r in records] == ["b.jpg", "c.jpg", "e.jpg"]
    assert {r["annotator"] for r in records} == {"rule"} and {r["choice"] for r in records} == {"no track"}
    assert [r["known_answer"] for r in records] == [
        "dose <= 0 Gy -> no track",
        "particle X-ray -> no track",
        "particle X-ray -> no track",
    ]  # first match wins
    assert rule_records(meta(), [], "results/data/images") == []


def test_the_rule_sample_for_training_is_stable_and_only_from_the_candidates():
    rule = {f"x{i}.jpg": "no track" for i in range(50)}
    candidates = [f"x{i}.jpg" for i in range(40)] + ["undecided.jpg"]
    picked = training_sample(rule, candidates, 10, seed=0)
    assert len(picked) == 10 and set(picked) <= set(candidates) - {"undecided.jpg"}
    assert training_sample(rule, list(reversed(candidates)), 10, seed=0) == picked  # order-free
    assert set(training_sample(rule, candidates, 5, seed=0)) < set(picked)  # a larger n only adds
    assert training_sample(rule, candidates, 10, seed=1) != picked
    assert training_sample(rule, candidates, 0, seed=0) == {}


def test_a_person_who_contradicts_the_rule_is_reported():
    assert conflicts(
        {"a.jpg": "track", "b.jpg": "no track", "c.jpg": "track"}, {"a.jpg": "no track", "b.jpg": "no track"}
    ) == [{"filename": "a.jpg", "person": "track", "rule": "no track"}]
