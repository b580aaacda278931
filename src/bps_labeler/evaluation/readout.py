"""How many nuclei carry a track in each condition: the model's calls corrected for its mistakes.

A classifier that misses some tracks and sees some that are not there biases the raw share of
"track" calls towards the middle. The Rogan-Gladen estimator undoes that with the classifier's
sensitivity and specificity, measured on the validation images the condition does not decide:

    corrected = (called + specificity - 1) / (sensitivity + specificity - 1), clipped to [0, 1]

Its 95 % interval must carry two uncertainties: how many of a condition's nuclei the model calls
a track (a binomial share of the condition's images), and how well sensitivity and specificity
are known (binomial shares of a few hundred validation images). Each is drawn from its Jeffreys
posterior, Beta(k + 1/2, n - k + 1/2), which keeps a width when a count is 0 or n, where a
plain bootstrap collapses to a point; the interval is the 2.5 and 97.5 percentiles of the
corrected share over the draws (docs/readout.md; benchmarks/readout_coverage.py measures how
often it covers the true share on synthetic data).

Conditions whose answer the metadata gives (known_answers: X-rays, sham) are reported as such,
with the rule's share and no interval: no model is involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bps_labeler.data.meta import CONDITION
from bps_labeler.errors import InputError

#: Draws of the interval; 4000 puts the percentiles within about 0.005 of their limit.
DRAWS = 4000


@dataclass(frozen=True)
class Confusion:
    """The classifier on validation images the condition does not decide; track = positive."""

    tp: int
    fn: int
    fp: int
    tn: int

    @classmethod
    def from_metrics(cls, metrics: dict[str, Any], positive: str, source: str = "metrics.json") -> Confusion:
        """From a round's metrics.json (`source` names it in errors): the model's confusion
        matrix on the undecided images."""
        try:
            cm = metrics["baselines"]["undecided"]["model"]["confusion_matrix"]
            categories = list(metrics["categories"])
        except (KeyError, TypeError):
            raise InputError(
                f"{source} has no confusion matrix of the model on the undecided validation images "
                "(baselines.undecided.model); rerun the round's train rule."
            ) from None
        if positive not in categories or len(categories) != 2:
            raise InputError(
                f"{source}: the readout needs two categories with {positive!r} among them; the model has {categories}."
            )
        p, q = categories.index(positive), 1 - categories.index(positive)
        return cls(tp=int(cm[p][p]), fn=int(cm[p][q]), fp=int(cm[q][p]), tn=int(cm[q][q]))

    @property
    def sensitivity(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def specificity(self) -> float:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else float("nan")


def rogan_gladen(called: np.ndarray | float, se: np.ndarray | float, sp: np.ndarray | float) -> np.ndarray:
    """The corrected share; NaN where the classifier is no better than chance (se + sp <= 1)."""
    called, se, sp = np.asarray(called, float), np.asarray(se, float), np.asarray(sp, float)
    youden = se + sp - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(youden > 0, (called + sp - 1) / youden, np.nan)
    return np.clip(share, 0.0, 1.0)


def _jeffreys(k: int, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return rng.beta(k + 0.5, n - k + 0.5, size=size)


def corrected_share(
    called: int, n: int, confusion: Confusion, draws: int = DRAWS, seed: int = 0
) -> tuple[float, float, float]:
    """(corrected share, 95 % low, 95 % high) of a condition whose `n` images the model called
    a track `called` times."""
    if n <= 0:
        return (float("nan"),) * 3
    c = confusion
    if not (c.tp + c.fn and c.tn + c.fp):
        raise InputError(
            "the validation images the condition leaves open hold no "
            f"{'track' if not c.tp + c.fn else 'no-track'} image, so the classifier's "
            f"{'sensitivity' if not c.tp + c.fn else 'specificity'} is unknown; label more validation images."
        )
    point = float(rogan_gladen(called / n, c.sensitivity, c.specificity))
    rng = np.random.default_rng(seed)
    shares = rogan_gladen(
        _jeffreys(called, n, draws, rng),
        _jeffreys(c.tp, c.tp + c.fn, draws, rng),
        _jeffreys(c.tn, c.tn + c.fp, draws, rng),
    )
    shares = shares[~np.isnan(shares)]
    if len(shares) < 0.95 * draws:  # the classifier is too often no better than chance
        return point, 0.0, 1.0
    low, high = np.percentile(shares, [2.5, 97.5])
    return point, float(low), float(high)


def readout(
    answers: pd.DataFrame, confusion: Confusion, positive: str, draws: int = DRAWS, seed: int = 0
) -> pd.DataFrame:
    """One row per condition: images, the share called `positive`, and that share corrected.

    `answers` has a row per image: the CONDITION columns, `answer` and `answered_by`
    ("condition" or "model").
    """
    missing = [c for c in (*CONDITION, "answer", "answered_by") if c not in answers.columns]
    if missing:
        raise InputError(f"the answers table lacks column(s) {missing}; rerun the inference rule.")
    rows = []
    for cond, group in answers.groupby(list(CONDITION), sort=True):
        n = len(group)
        called = int((group["answer"] == positive).sum())
        by = sorted(set(group["answered_by"]))
        row = dict(zip(CONDITION, cond))
        row.update(n_images=n, answered_by="+".join(by), n_called=called, share_called=round(called / n, 6))
        if by == ["condition"]:
            row.update(share_corrected=round(called / n, 6), ci_low=None, ci_high=None)
        else:
            # one seed per condition, fixed by its place in the sorted table: reruns agree
            point, low, high = corrected_share(called, n, confusion, draws, seed + len(rows))
            row.update(share_corrected=round(point, 6), ci_low=round(low, 6), ci_high=round(high, 6))
        rows.append(row)
    columns = [*CONDITION, "n_images", "answered_by", "n_called", "share_called", "share_corrected"]
    return pd.DataFrame(rows, columns=[*columns, "ci_low", "ci_high"])
