"""How many nuclei carry a track in each condition: the model's calls, corrected for its mistakes.

The share of images a classifier calls "track" is biased by its mistakes (Rogan-Gladen):

    called = share x sensitivity + (1 - share) x (1 - specificity)
    share  = (called + specificity - 1) / (sensitivity + specificity - 1), clipped to [0, 1]

and the mistakes are not the same in every condition: 48 h after exposure tracks are fainter
and more are missed; at 0.82 Gy more nuclei without a track carry foci that look like one. One
sensitivity and specificity for all conditions covered the true share in 21 of 25 synthetic
conditions; per-condition rates from a dozen validation images each are too noisy alone (the
intervals are twice as wide). The readout estimates them per condition, partially pooled: the
conditions' rates are drawn from a common Beta(mu kappa, (1 - mu) kappa), whose centre mu and
strength kappa are themselves estimated from all conditions (a hierarchical model, with the
usual p(mu, kappa) ~ kappa^(-3/2) prior, Gelman et al., Bayesian Data Analysis, 5.3). Where the
conditions agree, each borrows the others' images; where they differ, each keeps its own.

The 95 % interval carries every uncertainty: the posterior draws of each condition's rates, and
the share the model calls among the condition's images that are not labeled (a Jeffreys draw,
Beta(k + 1/2, m - k + 1/2)); the condition's labeled validation images count as labeled. It
is the 2.5 and 97.5 percentiles of the corrected share over 4,000 draws. The choice between
this, one pooled pair of rates and a mixture model on the scores, on synthetic data made by
seven generators, is in docs/results/readout_estimators.md.

Conditions whose answer the metadata gives (known_answers: X-rays, sham) are reported as such,
with the rule's share and no interval: no model is involved.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betaln, gammaln

from bps_labeler.data.meta import CONDITION, jpg_name
from bps_labeler.errors import InputError

#: Posterior draws; 4000 puts the percentiles within about 0.005 of their limit.
DRAWS = 4000
#: The grid the hierarchical prior's centre and strength are integrated over.
CENTRES = np.linspace(0.0025, 0.9975, 400)
STRENGTHS = np.exp(np.linspace(0.0, np.log(1e4), 120))


def _log_beta_binomial(k: np.ndarray, n: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + betaln(k + a, n - k + b) - betaln(a, b)


def rate_draws(k: np.ndarray, n: np.ndarray, rng: np.random.Generator, draws: int = DRAWS) -> np.ndarray:
    """Posterior draws (draws x conditions) of each condition's rate, partially pooled.

    k_c ~ Binomial(n_c, p_c), p_c ~ Beta(mu kappa, (1 - mu) kappa), p(mu, kappa) ~ kappa^(-3/2):
    (mu, kappa) drawn from their posterior on a grid, then each p_c from its Beta posterior. A
    condition without labeled images (n_c = 0) gets the conditions' spread.
    """
    k, n = np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)
    centre, strength = np.meshgrid(CENTRES, STRENGTHS, indexing="ij")
    a, b = centre * strength, (1 - centre) * strength
    log_post = _log_beta_binomial(k, n, a[..., None], b[..., None]).sum(axis=-1)
    log_post += -1.5 * np.log(strength) + np.log(strength)  # the prior; the grid is uniform in log kappa
    weight = np.exp(log_post - log_post.max()).ravel()
    pick = rng.choice(weight.size, size=draws, p=weight / weight.sum())
    return rng.beta(a.ravel()[pick][:, None] + k, b.ravel()[pick][:, None] + n - k)


def rogan_gladen(called: np.ndarray | float, se: np.ndarray | float, sp: np.ndarray | float) -> np.ndarray:
    """The corrected share; NaN where the classifier is no better than chance (se + sp <= 1)."""
    called, se, sp = np.asarray(called, float), np.asarray(se, float), np.asarray(sp, float)
    youden = se + sp - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(youden > 0, (called + sp - 1) / youden, np.nan)
    return np.clip(share, 0.0, 1.0)


def corrected_share(
    called: int, m: int, se: np.ndarray, sp: np.ndarray, rng: np.random.Generator
) -> tuple[float, float, float]:
    """(share, 95 % low, 95 % high) among `m` unlabeled images of which the model calls
    `called` a track, given draws of the condition's sensitivity and specificity."""
    if m == 0:
        return 0.0, 0.0, 0.0
    point = float(rogan_gladen(called / m, np.median(se), np.median(sp)))
    shares = rogan_gladen(rng.beta(called + 0.5, m - called + 0.5, size=len(se)), se, sp)
    shares = shares[~np.isnan(shares)]
    if np.isnan(point) or len(shares) < 0.95 * len(se):  # too often no better than chance:
        return (called / m if np.isnan(point) else point), 0.0, 1.0  # nothing to correct with
    low, high = np.percentile(shares, [2.5, 97.5])
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


def readout(
    answers: pd.DataFrame, validation: pd.DataFrame, positive: str, seed: int = 0, draws: int = DRAWS
) -> pd.DataFrame:
    """One row per condition: images, the share called `positive`, and that share corrected.

    `answers` has a row per image of the scope: filename, the CONDITION columns, `answer` and
    `answered_by` ("condition" or "model"). `validation` has a row per validation image:
    filename, the CONDITION columns, `label` (a person's) and `answer` (the model's own).
    """
    for name, table, needed in (
        ("answers", answers, ("filename", *CONDITION, "answer", "answered_by")),
        ("validation", validation, ("filename", *CONDITION, "label", "answer")),
    ):
        missing = [c for c in needed if c not in table.columns]
        if missing:
            raise InputError(f"the {name} table lacks column(s) {missing}; rerun the round's rules.")
    known = validation.assign(is_track=validation["label"] == positive, called=validation["answer"] == positive)
    known = known.set_index("filename")
    by_condition = dict(iter(known.groupby(list(CONDITION), sort=True)))
    groups = list(answers.groupby(list(CONDITION), sort=True))
    by_model = [c for c, g in groups if set(g["answered_by"]) != {"condition"}]
    labeled = {c: by_condition.get(c, known.iloc[:0]) for c in by_model}
    counts = np.array(
        [
            [
                (v["is_track"] & v["called"]).sum(),
                v["is_track"].sum(),
                (~v["is_track"] & ~v["called"]).sum(),
                (~v["is_track"]).sum(),
            ]
            for v in labeled.values()
        ],
        dtype=np.float64,
    ).reshape(-1, 4)
    rng = np.random.default_rng(seed)
    if len(by_model):
        if counts[:, 1].sum() == 0 or counts[:, 3].sum() == 0:
            kind, rate = ("track", "sensitivity") if counts[:, 1].sum() == 0 else ("no-track", "specificity")
            raise InputError(
                f"the validation images the condition leaves open hold no {kind} image, so the "
                f"classifier's {rate} is unknown; label more validation images."
            )
        sensitivity = rate_draws(counts[:, 0], counts[:, 1], rng, draws)
        specificity = rate_draws(counts[:, 2], counts[:, 3], rng, draws)
    rows = []
    for cond, group in groups:
        n = len(group)
        called = int((group["answer"] == positive).sum())
        row = dict(zip(CONDITION, cond))
        by = sorted(set(group["answered_by"]))
        row.update(answered_by="+".join(by), n_images=n, n_called=called, share_called=round(called / n, 6))
        if cond not in labeled:
            row.update(n_validation=len(by_condition.get(cond, ())), share_corrected=round(called / n, 6))
            row.update(ci_low=None, ci_high=None)
        else:
            j = by_model.index(cond)
            inside = group["filename"].isin(labeled[cond].index)
            tracks_inside = int(labeled[cond].loc[group.loc[inside, "filename"], "is_track"].sum())
            rest = group[~inside]
            m = len(rest)
            estimate = corrected_share(
                int((rest["answer"] == positive).sum()), m, sensitivity[:, j], specificity[:, j], rng
            )
            # the labeled images count as labeled; the others as corrected
            share, low, high = ((tracks_inside + m * w) / n for w in estimate)
            row.update(
                n_validation=len(labeled[cond]),
                share_corrected=round(share, 6),
                ci_low=round(low, 6),
                ci_high=round(high, 6),
            )
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
