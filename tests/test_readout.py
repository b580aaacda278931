"""The per-condition readout: corrected shares whose intervals cover the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from bps_labeler.errors import InputError
from bps_labeler.evaluation.readout import corrected_share, rate_draws, readout, rogan_gladen, with_conditions

pytestmark = pytest.mark.unit


def test_rogan_gladen_undoes_a_known_bias():
    # 40 % of tracks, se 0.8, sp 0.9: called = 0.4 * 0.8 + 0.6 * 0.1 = 0.38
    assert rogan_gladen(0.38, 0.8, 0.9) == pytest.approx(0.4)
    assert rogan_gladen(0.02, 0.8, 0.9) == 0.0  # below the false-positive floor: none
    assert np.isnan(rogan_gladen(0.5, 0.5, 0.5))  # a coin: nothing to correct with


def _width(draws):
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    return high - low


def test_conditions_that_agree_borrow_each_others_images_and_those_that_differ_keep_their_own():
    rng = np.random.default_rng(0)
    n = np.full(6, 8)
    alike = rate_draws(np.array([7, 8, 7, 8, 7, 8]), n, rng)
    alone = rng.beta(np.array([7, 8, 7, 8, 7, 8]) + 0.5, n - np.array([7, 8, 7, 8, 7, 8]) + 0.5, (4000, 6))
    assert (_width(alike) < 0.8 * _width(alone)).all()  # pooled: narrower than each on its own
    apart = rate_draws(np.array([8, 8, 8, 1, 1, 1]), n, rng)
    assert np.median(apart[:, 0]) > 0.75 and np.median(apart[:, 3]) < 0.35  # not pulled to the middle
    empty = rate_draws(np.array([7, 8, 0]), np.array([8, 8, 0]), rng)  # a condition without labels
    assert _width(empty)[2] > _width(empty)[0]


def _simulate(rng, data_sets=24, conditions=5):
    """Coverage over simulated data sets whose model makes different mistakes in each condition
    (sensitivity 0.6-1, specificity 0.75-1, as fainter tracks at 48 h or busier nuclei at a high
    dose make it), with 12 labeled validation images per condition."""
    hits = {"corrected": 0, "raw": 0}
    width, total = 0.0, 0
    for d in range(data_sets):
        shares = rng.uniform(0.1, 0.8, conditions)
        se, sp = rng.uniform(0.6, 1.0, conditions), rng.uniform(0.75, 1.0, conditions)
        frames, validation = [], []
        for c in range(conditions):
            n = int(rng.integers(150, 300))
            truth = rng.random(n + 12) < shares[c]
            called = np.where(truth, rng.random(n + 12) < se[c], rng.random(n + 12) > sp[c])
            names = [f"d{d}c{c}_{i}.jpg" for i in range(n + 12)]
            answer = np.where(called, "track", "no track")
            frames.append(
                pd.DataFrame(
                    {
                        "filename": names[:n],
                        "particle_type": "Fe",
                        "dose_Gy": float(c),
                        "hr_post_exposure": 4,
                        "answer": answer[:n],
                        "answered_by": "model",
                        "truth": truth[:n],
                    }
                )
            )
            label = np.where(truth[n:], "track", "no track")
            validation.append(
                pd.DataFrame(
                    {
                        "filename": names[n:],
                        "particle_type": "Fe",
                        "dose_Gy": float(c),
                        "hr_post_exposure": 4,
                        "label": label,
                        "answer": answer[n:],
                    }
                )
            )
        answers = pd.concat(frames, ignore_index=True)
        table = readout(answers, pd.concat(validation, ignore_index=True), "track", seed=d, draws=2000)
        true_share = answers.groupby("dose_Gy")["truth"].mean().to_numpy()
        for c, row in enumerate(table.itertuples()):
            hits["corrected"] += row.ci_low <= true_share[c] <= row.ci_high
            width += row.ci_high - row.ci_low
            k, n = row.n_called, row.n_images
            raw = beta.ppf([0.025, 0.975], k + 0.5, n - k + 0.5)
            hits["raw"] += raw[0] <= true_share[c] <= raw[1]
            total += 1
    return {**{k: v / total for k, v in hits.items()}, "width": width / total}


def test_intervals_cover_the_true_share_where_the_raw_share_does_not():
    coverage = _simulate(np.random.default_rng(7))
    assert coverage["corrected"] >= 0.90, coverage
    # covering by saying "somewhere in 0-1" does not count; 12 labels a condition leave ~0.6
    assert coverage["width"] < 0.7, coverage
    assert coverage["raw"] < 0.65, coverage  # the uncorrected share is biased: a test it would fail


def test_a_model_no_better_than_chance_gives_the_whole_range():
    rng = np.random.default_rng(0)
    se, sp = rng.beta(5, 5, 2000), rng.beta(5, 5, 2000)  # a coin
    assert corrected_share(50, 100, se, sp, rng)[1:] == (0.0, 1.0)


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
    return answers.reset_index(drop=True), validation[["filename", "label", "answer"]]


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
        readout(answers.drop(columns="answered_by"), validation, "track")


def test_validation_without_a_track_says_what_to_label():
    answers, validation = _tables()
    validation = validation.assign(label="no track", particle_type="Fe", dose_Gy=0.82, hr_post_exposure=4)
    with pytest.raises(InputError, match="no track image, so the classifier's sensitivity is unknown"):
        readout(answers, validation, "track")
