"""The per-condition readout: corrected shares whose intervals cover the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bps_labeler.errors import InputError
from bps_labeler.evaluation.readout import Confusion, corrected_share, readout, rogan_gladen


def test_rogan_gladen_undoes_a_known_bias():
    # 40 % of tracks, se 0.8, sp 0.9: called = 0.4 * 0.8 + 0.6 * 0.1 = 0.38
    assert rogan_gladen(0.38, 0.8, 0.9) == pytest.approx(0.4)
    assert rogan_gladen(0.02, 0.8, 0.9) == 0.0  # below the false-positive floor: none
    assert np.isnan(rogan_gladen(0.5, 0.5, 0.5))  # a coin: nothing to correct with


@pytest.mark.parametrize("categories", [["track", "no track"], ["no track", "track"]])
def test_confusion_is_read_by_category_name(categories):
    # truth track: 12 called track, 2 missed; truth no track: 1 called track, 9 right
    track, none = categories.index("track"), categories.index("no track")
    cm = [[0, 0], [0, 0]]
    cm[track][track], cm[track][none], cm[none][track], cm[none][none] = 12, 2, 1, 9
    metrics = {"categories": categories, "baselines": {"undecided": {"model": {"confusion_matrix": cm}}}}
    c = Confusion.from_metrics(metrics, "track")
    assert (c.tp, c.fn, c.fp, c.tn) == (12, 2, 1, 9)
    assert c.sensitivity == pytest.approx(12 / 14) and c.specificity == pytest.approx(0.9)


def test_a_validation_set_without_tracks_is_refused():
    with pytest.raises(InputError, match="sensitivity is unknown"):
        corrected_share(10, 100, Confusion(tp=0, fn=0, fp=3, tn=50))


def _simulate(rng, trials=40, conditions=17, se=0.85, sp=0.93):
    """Coverage of the corrected and the raw intervals over simulated data sets: each trial draws
    a validation set (its confusion) and 17 conditions of 60-400 nuclei with true shares in 0-0.8."""
    hits = {"corrected": 0, "raw": 0}
    total, width = 0, 0.0
    for t in range(trials):
        n_pos, n_neg = rng.integers(40, 120), rng.integers(80, 200)
        tp, tn = rng.binomial(n_pos, se), rng.binomial(n_neg, sp)
        confusion = Confusion(tp=int(tp), fn=int(n_pos - tp), fp=int(n_neg - tn), tn=int(tn))
        for k in range(conditions):
            n = int(rng.integers(60, 400))
            truth = rng.random(n) < rng.uniform(0.0, 0.8)
            called = np.where(truth, rng.random(n) < se, rng.random(n) > sp)
            _, low, high = corrected_share(int(called.sum()), n, confusion, draws=2000, seed=t * 100 + k)
            share = truth.mean()
            hits["corrected"] += low <= share <= high
            width += high - low
            raw = rng.beta(called.sum() + 0.5, n - called.sum() + 0.5, 2000)
            hits["raw"] += np.percentile(raw, 2.5) <= share <= np.percentile(raw, 97.5)
            total += 1
    return {**{k: v / total for k, v in hits.items()}, "width": width / total}


def test_intervals_cover_the_true_share_where_the_raw_share_does_not():
    coverage = _simulate(np.random.default_rng(7))
    assert coverage["corrected"] >= 0.90, coverage
    assert coverage["width"] < 0.3, coverage  # covering by saying "somewhere in 0-1" does not count
    assert coverage["raw"] < 0.75, coverage  # the uncorrected share is biased: a test it would fail


def test_readout_rows_per_condition():
    answers = pd.DataFrame(
        {
            "particle_type": ["Fe"] * 6 + ["X-ray"] * 3,
            "dose_Gy": [0.82] * 3 + [1.0] * 3 + [1.0] * 3,
            "hr_post_exposure": [4] * 9,
            "answer": ["track", "track", "no track", "track", "no track", "no track"] + ["no track"] * 3,
            "answered_by": ["model"] * 6 + ["condition"] * 3,
        }
    )
    table = readout(answers, Confusion(tp=45, fn=5, fp=2, tn=48), "track", draws=1000)
    assert list(table["particle_type"]) == ["Fe", "Fe", "X-ray"]
    fe = table.iloc[0]
    assert fe["n_images"] == 3 and fe["n_called"] == 2 and fe["share_called"] == pytest.approx(2 / 3, abs=1e-6)
    assert fe["ci_low"] <= fe["share_corrected"] <= fe["ci_high"]
    xray = table.iloc[2]
    assert xray["answered_by"] == "condition" and xray["share_corrected"] == 0.0 and pd.isna(xray["ci_low"])
    again = readout(answers, Confusion(tp=45, fn=5, fp=2, tn=48), "track", draws=1000)
    pd.testing.assert_frame_equal(table, again)  # seeded: a rerun writes the same table
