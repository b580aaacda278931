"""How many nuclei carry a track in each condition: the model's scores, corrected for its mistakes.

The share of images a classifier calls "track" is biased by its mistakes, and the mistakes are
not the same in every condition: 48 h after exposure tracks are fainter and more are missed;
at a high dose more nuclei without a track carry scattered foci that look like one. A single
sensitivity and specificity measured on the validation images (Rogan-Gladen) corrects for the
average mistake only, and covered the true share in 21 of 25 synthetic conditions
(docs/readout.md). Per-condition sensitivities from a dozen validation images each are too noisy
to help, with or without pooling (docs/results/readout_estimators.md).

What each condition does have is its score distribution: a few hundred images whose logit
scores form two bumps, the tracks' and the others'. The readout fits, per condition, a mixture
of two normal distributions to the logit scores, semi-supervised: the condition's validation
images belong to their labeled component, the rest are shared between the two by EM. The share
of tracks is the mixture weight of the unlabeled images, with the labeled ones counted as they
are. The 95 % interval is the percentile interval of 200 bootstrap refits, resampling the
unlabeled and the labeled images separately, so it carries both the sampling of the condition's
images and how well the validation images pin the components down.

The normal shape is an assumption: plot a condition's scores (answers.csv) when its interval
looks odd. Conditions whose answer the metadata gives (known_answers: X-rays, sham) are
reported as such, with the rule's share and no interval: no model is involved.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bps_labeler.data.meta import CONDITION, jpg_name
from bps_labeler.errors import InputError

#: Bootstrap refits per condition; 200 puts the 2.5 % and 97.5 % percentiles within about 0.01
#: of their limit for the widths seen (docs/readout.md).
BOOTSTRAP = 200
#: EM iterations for the point estimate and for each bootstrap refit.
ITERATIONS = 200
BOOTSTRAP_ITERATIONS = 100
#: Probabilities are clipped before the logit, so a saturated score stays finite.
CLIP = 1e-6
#: Floor of a component's spread: a condition whose scores all sit at the clip stays defined.
MIN_SPREAD = 1e-3


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), CLIP, 1 - CLIP)
    return np.log(p / (1 - p))


def _normal(x: np.ndarray, mean: np.ndarray, spread: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / spread) ** 2) / spread


def _weighted(w: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = w.sum(axis=1, keepdims=True) + 1e-12
    mean = (w * x).sum(axis=1, keepdims=True) / total
    spread = np.sqrt((w * (x - mean) ** 2).sum(axis=1, keepdims=True) / total) + MIN_SPREAD
    return mean, spread


def track_weight(
    open_: np.ndarray, known: np.ndarray, is_track: np.ndarray, iterations: int = ITERATIONS
) -> np.ndarray:
    """The share of tracks among the unlabeled scores, by EM on a two-normal mixture.

    Each argument has one row per fit (bootstrap replicates at once): `open_` (fits, m) the
    unlabeled logit scores, `known` (fits, k) the labeled ones and `is_track` (fits, k) their
    labels, which fix their component. Returns the weight of the track component per fit.
    """
    share = np.full((len(open_), 1), 0.5)
    high = np.percentile(open_, 75, axis=1, keepdims=True)
    low = np.percentile(open_, 25, axis=1, keepdims=True)
    spread = open_.std(axis=1, keepdims=True) / 2 + MIN_SPREAD
    track, other = (high, spread), (low, spread.copy())
    scores = np.concatenate([open_, known], axis=1)
    labeled = is_track.astype(np.float64)
    for _ in range(iterations):
        a = share * _normal(open_, *track)
        b = (1 - share) * _normal(open_, *other)
        r = a / (a + b + 1e-300)
        share = r.mean(axis=1, keepdims=True)
        w = np.concatenate([r, labeled], axis=1)
        track, other = _weighted(w, scores), _weighted(1 - w, scores)
    return share[:, 0]


def open_share(
    open_scores: np.ndarray,
    known_scores: np.ndarray,
    known_tracks: np.ndarray,
    seed: int = 0,
    bootstrap: int = BOOTSTRAP,
) -> tuple[float, float, float]:
    """(share, 95 % low, 95 % high) of tracks among a condition's unlabeled images.

    `open_scores`: their logit scores; `known_scores`, `known_tracks`: the condition's validation
    images (logit score, whether a person labeled it a track), which shape the components.
    """
    m, k = len(open_scores), len(known_scores)
    if m == 0:
        return (float("nan"),) * 3
    x = np.asarray(open_scores, dtype=np.float64)
    xl = np.asarray(known_scores, dtype=np.float64)
    yl = np.asarray(known_tracks, dtype=bool)
    point = float(track_weight(x[None, :], xl[None, :], yl[None, :])[0])
    rng = np.random.default_rng(seed)
    pick_open = rng.integers(0, m, size=(bootstrap, m))
    pick_known = rng.integers(0, k, size=(bootstrap, k)) if k else np.zeros((bootstrap, 0), dtype=int)
    draws = track_weight(x[pick_open], xl[pick_known], yl[pick_known], iterations=BOOTSTRAP_ITERATIONS)
    low, high = np.percentile(draws, [2.5, 97.5])
    return point, float(low), float(high)


def with_conditions(validation: pd.DataFrame, meta: pd.DataFrame, source: str = "validation.csv") -> pd.DataFrame:
    """The validation table (train's validation.csv, a row per JPG) with each image's condition
    from the filtered meta.csv (a row per TIFF)."""
    conditions = meta.assign(filename=meta["filename"].map(jpg_name)).set_index("filename")[list(CONDITION)]
    unknown = sorted(set(validation["filename"]) - set(conditions.index))
    if unknown:
        raise InputError(
            f"{source}: {len(unknown)} image(s) not in the filtered meta.csv, such as {unknown[0]}; "
            "the round was trained on another data set. Rerun it (snakemake will)."
        )
    return validation.drop(columns=[c for c in CONDITION if c in validation]).join(conditions, on="filename")


def readout(answers: pd.DataFrame, validation: pd.DataFrame, positive: str, seed: int = 0) -> pd.DataFrame:
    """One row per condition: images, the share called `positive`, and that share corrected.

    `answers` has a row per image of the scope: filename, the CONDITION columns, p_<positive>,
    `answer` and `answered_by` ("condition" or "model"). `validation` has a row per validation
    image: filename, the CONDITION columns, `label` and p_<positive> (the model's own score).
    """
    score = f"p_{positive}"
    for name, table, needed in (
        ("answers", answers, ("filename", *CONDITION, score, "answer", "answered_by")),
        ("validation", validation, ("filename", *CONDITION, score, "label")),
    ):
        missing = [c for c in needed if c not in table.columns]
        if missing:
            raise InputError(f"the {name} table lacks column(s) {missing}; rerun the round's rules.")
    known = validation.assign(is_track=validation["label"] == positive).set_index("filename")
    by_condition = dict(iter(known.groupby(list(CONDITION), sort=True)))
    rows = []
    for cond, group in answers.groupby(list(CONDITION), sort=True):
        n = len(group)
        called = int((group["answer"] == positive).sum())
        by = sorted(set(group["answered_by"]))
        row = dict(zip(CONDITION, cond))
        labeled = by_condition.get(cond, known.iloc[:0])
        row.update(
            n_images=n,
            answered_by="+".join(by),
            n_called=called,
            share_called=round(called / n, 6),
            n_validation=len(labeled),
        )
        if by == ["condition"]:
            row.update(share_corrected=round(called / n, 6), ci_low=None, ci_high=None)
        else:
            inside = group["filename"].isin(labeled.index)
            tracks_inside = int(labeled.loc[group.loc[inside, "filename"], "is_track"].sum())
            m = int((~inside).sum())
            # the labeled images count as labeled; the mixture estimates the share of the rest.
            # One seed per condition, fixed by its place in the sorted table: reruns agree.
            estimate = (
                open_share(
                    logit(group.loc[~inside, score].to_numpy()),
                    logit(labeled[score].to_numpy()),
                    labeled["is_track"].to_numpy(),
                    seed + len(rows),
                )
                if m
                else (0.0, 0.0, 0.0)  # every image of the condition is labeled: the share is known
            )
            share, low, high = ((tracks_inside + m * w) / n for w in estimate)
            row.update(share_corrected=round(share, 6), ci_low=round(low, 6), ci_high=round(high, 6))
        rows.append(row)
    columns = [*CONDITION, "n_images", "answered_by", "n_called", "share_called", "n_validation", "share_corrected"]
    return pd.DataFrame(rows, columns=[*columns, "ci_low", "ci_high"])


def readout_metrics(table: pd.DataFrame, round_: int) -> dict[str, object]:
    """The readout as a DVC metrics file: one entry per condition, named as people say it
    ("Fe 0.82 Gy 4 h"), so `dvc metrics show` and `dvc metrics diff` compare rounds and runs."""
    conditions = {}
    for row in table.itertuples(index=False):
        name = f"{row.particle_type} {float(row.dose_Gy):g} Gy {row.hr_post_exposure} h"
        values = {
            "n_images": int(row.n_images),
            "answered_by": row.answered_by,
            "share_called": float(row.share_called),
            "share_corrected": float(row.share_corrected),
        }
        if pd.notna(row.ci_low):
            values.update(ci_low=float(row.ci_low), ci_high=float(row.ci_high))
        conditions[name] = values
    return {"round": round_, "conditions": conditions}
