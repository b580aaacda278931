"""The per-condition readout: corrected shares whose intervals cover the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from bps_labeler.errors import InputError
from bps_labeler.evaluation.readout import open_share, readout, track_weight, with_conditions

pytestmark = pytest.mark.unit


def _condition(rng, n, share, track=(2.0, 1.0), other=(-2.0, 1.0), n_known=12):
    """Logit scores of a condition's images: (unlabeled scores, their truth, labeled scores,
    their labels)."""
    truth = rng.random(n + n_known) < share
    scores = np.where(truth, rng.normal(*track, n + n_known), rng.normal(*other, n + n_known))
    return scores[:n], truth[:n], scores[n:], truth[n:]


def test_the_mixture_finds_a_known_share_where_the_threshold_does_not():
    # tracks often score below 0: a 0.5 threshold misses a third of them
    x, truth, xl, yl = _condition(np.random.default_rng(1), 2000, 0.3, track=(0.4, 1.0), other=(-3.0, 1.0))
    assert (x[truth] > 0).mean() < 0.7
    share = track_weight(x[None, :], xl[None, :], yl[None, :])[0]
    assert share == pytest.approx(truth.mean(), abs=0.03)
    assert abs((x > 0).mean() - truth.mean()) > 0.05


def _simulate(rng, conditions=60):
    """Coverage over simulated conditions whose model makes different mistakes in each: the
    components move from condition to condition, as fainter tracks at 48 h or busier nuclei at
    a high dose move them, and only 12 images of each are labeled."""
    hits = {"corrected": 0, "raw": 0}
    width = 0.0
    for k in range(conditions):
        n = int(rng.integers(150, 400))
        share = rng.uniform(0.05, 0.8)
        track = (rng.uniform(0.0, 3.0), rng.uniform(0.7, 1.5))
        other = (rng.uniform(-3.0, -0.5), rng.uniform(0.7, 1.5))
        x, truth, xl, yl = _condition(rng, n, share, track, other)
        point, low, high = open_share(x, xl, yl, seed=k)
        hits["corrected"] += low <= truth.mean() <= high
        width += high - low
        called = int((x > 0).sum())
        raw = beta.ppf([0.025, 0.975], called + 0.5, n - called + 0.5)
        hits["raw"] += raw[0] <= truth.mean() <= raw[1]
    return {**{k: v / conditions for k, v in hits.items()}, "width": width / conditions}


def test_intervals_cover_the_true_share_where_the_raw_share_does_not():
    coverage = _simulate(np.random.default_rng(7))
    assert coverage["corrected"] >= 0.90, coverage
    assert coverage["width"] < 0.3, coverage  # covering by saying "somewhere in 0-1" does not count
    assert coverage["raw"] < 0.6, coverage  # the uncorrected share is biased: a test it would fail


def _tables():
    def rows(particle, dose, n, answered_by, start):
        rng = np.random.default_rng(start)
        p = rng.uniform(0, 1, n)
        return pd.DataFrame(
            {
                "filename": [f"{particle}{dose}_{i}.jpg" for i in range(start, start + n)],
                "particle_type": particle,
                "dose_Gy": dose,
                "hr_post_exposure": 4,
                "p_track": p if answered_by == "model" else 0.0,
                "answer": np.where(p > 0.5, "track", "no track") if answered_by == "model" else "no track",
                "answered_by": answered_by,
            }
        )

    answers = pd.concat([rows("Fe", 0.82, 80, "model", 0), rows("X-ray", 1.0, 30, "condition", 100)])
    validation = answers.iloc[:10].assign(label=["track"] * 5 + ["no track"] * 5)
    validation = pd.concat([validation, rows("Fe", 0.82, 6, "model", 500).assign(label="track")])
    return answers.reset_index(drop=True), validation[["filename", "label", "p_track"]]


def test_readout_rows_per_condition():
    answers, validation = _tables()
    conditions = ["particle_type", "dose_Gy", "hr_post_exposure"]
    extra = validation.iloc[10:].assign(particle_type="Fe", dose_Gy=0.82, hr_post_exposure=4)
    meta = pd.concat([answers[["filename", *conditions]], extra[["filename", *conditions]]])
    meta["filename"] = meta["filename"].str.replace(".jpg", ".tif")  # meta.csv names the TIFFs
    table = readout(answers, with_conditions(validation, meta), "track")
    assert list(table["particle_type"]) == ["Fe", "X-ray"]
    fe = table.iloc[0]
    assert fe["n_images"] == 80 and fe["n_validation"] == 16
    assert fe["n_called"] == int((answers["answer"].iloc[:80] == "track").sum())
    assert fe["ci_low"] <= fe["share_corrected"] <= fe["ci_high"]
    # the ten labeled images inside the scope count as labeled: five tracks at least
    assert fe["ci_low"] >= 5 / 80
    xray = table.iloc[1]
    assert xray["answered_by"] == "condition" and xray["share_corrected"] == 0.0 and pd.isna(xray["ci_low"])
    again = readout(answers, with_conditions(validation, meta), "track")
    pd.testing.assert_frame_equal(table, again)  # seeded: a rerun writes the same table


def test_a_condition_labeled_throughout_reads_its_labels():
    answers, validation = _tables()
    answers = answers.iloc[:10]
    table = readout(answers, validation.iloc[:10].assign(particle_type="Fe", dose_Gy=0.82, hr_post_exposure=4), "track")
    assert table.iloc[0][["share_corrected", "ci_low", "ci_high"]].tolist() == [0.5, 0.5, 0.5]


def test_validation_images_outside_the_data_set_are_named():
    _, validation = _tables()
    meta = pd.DataFrame({"filename": ["a.tif"], "particle_type": ["Fe"], "dose_Gy": [0.82], "hr_post_exposure": [4]})
    with pytest.raises(InputError, match=r"validation.csv: 16 image\(s\) not in the filtered meta.csv"):
        with_conditions(validation, meta)


def test_missing_columns_are_named():
    answers, validation = _tables()
    with pytest.raises(InputError, match="answers table lacks column"):
        readout(answers.drop(columns="p_track"), validation, "track")
