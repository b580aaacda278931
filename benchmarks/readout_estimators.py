"""Which estimator of a condition's share of track images keeps its 95 % interval on the truth?

The readout reports, per condition, the share of nuclei with a track corrected for the model's
mistakes, with a 95 % interval. The old readout (pooled Rogan-Gladen: one sensitivity and
specificity from all validation images) covered the true share in 21 of 25 synthetic conditions,
because the model's mistakes differ between conditions. This compares, on the runs that
benchmarks/readout_coverage.py leaves under benchmarks/out/readout/ (synthetic data, so the truth
is known: truth.csv over each condition's images, as readout_coverage computes it), the candidates:

* raw: the share the model calls a track, with its Jeffreys interval (no correction);
* (a) pooled Rogan-Gladen, Jeffreys draws of the called share, sensitivity and specificity (the old
  readout, inlined here: the library no longer has it);
* (b) Rogan-Gladen with a sensitivity and specificity per condition, shrunk towards each other by a
  Beta prior whose mean and strength are fitted to all conditions (empirical Bayes, type II maximum
  likelihood);
* (b') as (b), the prior's mean and strength integrated over with Gelman's prior p(mu, kappa) ~
  kappa^(-3/2) (full hierarchical Bayes, BDA3 section 5.3);
* (c') as (b) without sharing: each condition's own Jeffreys posteriors;
* (d) the shipped readout (bps_labeler.evaluation.readout.readout): per condition, a semi-supervised
  two-normal mixture on the model's logit scores with a bootstrap interval.

(b), (b') and (c') count a condition's validation images with their label and correct the calls of
its other images; (a) and raw use all the condition's calls. Conditions the metadata answers (no
model involved) are left out. Each run is marked as one of the generators the estimator was chosen
on (readout_coverage.CHOSEN_ON) or a held-out one. The validation labels and scores come from the
run's results/round_2/validation.csv, or, for runs made before it existed, from
results/validation/annotations.json with the scores of answers.csv. A run whose readout.csv is
missing or older than its inputs (a pipeline still running) is skipped.

Prints per candidate, for the chosen-on and the held-out generators, how many intervals cover the
truth, their mean width and the mean absolute error of the point estimate, and the misses; writes
docs/results/readout_estimators.{tsv,md} unless `--only` picks a subset. About a minute.

    .venv/bin/python benchmarks/readout_estimators.py [--only REGEX] [--runs DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from generator_spread import VARIANTS, slug
from readout_coverage import CHOSEN_ON
from scipy.special import betaln, gammaln
from scipy.stats import beta

from bps_labeler.data.meta import CONDITION, jpg_name
from bps_labeler.evaluation.readout import readout, with_conditions
from bps_labeler.labeling.annotations import read_labels

REPO = Path(__file__).resolve().parents[1]
ROUND = Path("results") / "round_2"
#: Monte Carlo draws of the Rogan-Gladen candidates (the old readout's 4000).
DRAWS = 4000
#: Grid of the Beta prior's mean and strength for (b) and (b'); strength 1e4 = no heterogeneity.
MU = np.linspace(0.0025, 0.9975, 400)
KAPPA = np.exp(np.linspace(np.log(1.0), np.log(1e4), 120))

Estimate = dict[tuple, tuple[float, float, float]]


@dataclass
class Run:
    name: str
    root: Path
    answers: pd.DataFrame  # a row per image: CONDITION, p_track, answer, answered_by, called, is_val, y_val
    validation: pd.DataFrame  # a row per validation image: filename, label, p_<positive>
    metrics: dict
    positive: str
    seed: int
    source: str  # where the validation labels came from

    def model_conditions(self) -> list[tuple[tuple, pd.DataFrame]]:
        groups = self.answers.groupby(list(CONDITION), sort=True)
        return [(c, g) for c, g in groups if set(g["answered_by"]) != {"condition"}]


# ---------------------------------------------------------------- reading the runs
def stale(root: Path) -> str | None:
    """Why the run cannot be read yet, or None."""
    target = root / ROUND / "inference" / "readout.csv"
    if not target.exists():
        return "no readout.csv yet"
    inputs = [
        root / ROUND / "inference" / "answers.csv",
        root / ROUND / "validation.csv",
        root / ROUND / "metrics.json",
        root / "resources" / "synthetic" / "truth.csv",
    ]
    newer = [p.name for p in inputs if p.exists() and p.stat().st_mtime > target.stat().st_mtime]
    return f"readout.csv older than {', '.join(newer)} (pipeline running?)" if newer else None


def load(name: str, root: Path) -> Run:
    cfg = yaml.safe_load((root / "config" / "config.yaml").read_text())
    positive = cfg["annotation"]["categories"][0]
    score = f"p_{positive}"
    answers = pd.read_csv(root / ROUND / "inference" / "answers.csv")
    truth = pd.read_csv(root / "resources" / "synthetic" / "truth.csv")
    truth = dict(zip(truth["filename"].map(jpg_name), truth["label"] == "track"))
    answers["true_track"] = answers["filename"].map(truth)  # as readout_coverage.py
    if (root / ROUND / "validation.csv").exists():
        validation = pd.read_csv(root / ROUND / "validation.csv")[["filename", "label", score]]
        source = "validation.csv"
    else:  # runs made before train wrote validation.csv: the labels, and the scores of answers.csv
        categories = tuple(cfg["annotation"]["categories"])
        labels = read_labels(root / "results" / "validation" / "annotations.json", categories)
        validation = pd.DataFrame({"filename": list(labels), "label": list(labels.values())})
        validation = validation.merge(answers[["filename", score]], on="filename")
        source = "annotations.json"
    label = validation.set_index("filename")["label"]
    answers["is_val"] = answers["filename"].isin(label.index)
    answers["y_val"] = answers["filename"].map(label).eq(positive)
    answers["called"] = answers["answer"].eq(positive)
    return Run(
        name=name,
        root=root,
        answers=answers,
        validation=validation,
        metrics=json.loads((root / ROUND / "metrics.json").read_text()),
        positive=positive,
        seed=int(cfg.get("seed", 0)),
        source=source,
    )


# ---------------------------------------------------------------- the old readout, (a)
def rogan_gladen(called: np.ndarray | float, se: np.ndarray | float, sp: np.ndarray | float) -> np.ndarray:
    """The corrected share; NaN where the classifier is no better than chance (se + sp <= 1)."""
    called, se, sp = np.asarray(called, float), np.asarray(se, float), np.asarray(sp, float)
    youden = se + sp - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(youden > 0, (called + sp - 1) / youden, np.nan)
    return np.clip(share, 0.0, 1.0)


def jeffreys(k: np.ndarray | int, n: np.ndarray | int, size, rng: np.random.Generator) -> np.ndarray:
    return rng.beta(np.asarray(k) + 0.5, np.asarray(n) - np.asarray(k) + 0.5, size=size)


def interval(shares: np.ndarray) -> tuple[float, float]:
    """The 95 % percentile interval; [0, 1] when over 5 % of the draws are no better than chance."""
    kept = shares[~np.isnan(shares)]
    if len(kept) < 0.95 * len(shares):
        return 0.0, 1.0
    low, high = np.percentile(kept, [2.5, 97.5])
    return float(low), float(high)


def pooled_rogan_gladen(run: Run) -> Estimate:
    """(a) as readout.py did: the model's confusion matrix on the undecided validation images
    (metrics.json), the calls of all a condition's images, one seed per row of the sorted table."""
    cm = run.metrics["baselines"]["undecided"]["model"]["confusion_matrix"]
    p = list(run.metrics["categories"]).index(run.positive)
    q = 1 - p
    tp, fn, fp, tn = cm[p][p], cm[p][q], cm[q][p], cm[q][q]
    out = {}
    for i, (cond, g) in enumerate(run.answers.groupby(list(CONDITION), sort=True)):
        if set(g["answered_by"]) == {"condition"}:
            continue
        n, k = len(g), int(g["called"].sum())
        rng = np.random.default_rng(run.seed + i)
        point = float(rogan_gladen(k / n, tp / (tp + fn), tn / (tn + fp)))
        called = jeffreys(k, n, DRAWS, rng)  # drawn in the old readout's order: its readout.csv is reproduced
        shares = rogan_gladen(called, jeffreys(tp, tp + fn, DRAWS, rng), jeffreys(tn, tn + fp, DRAWS, rng))
        out[cond] = (point, *interval(shares))
    return out


def raw(run: Run) -> Estimate:
    out = {}
    for cond, g in run.model_conditions():
        n, k = len(g), int(g["called"].sum())
        out[cond] = (k / n, float(beta.ppf(0.025, k + 0.5, n - k + 0.5)), float(beta.ppf(0.975, k + 0.5, n - k + 0.5)))
    return out


# ---------------------------------------------------------------- per condition, (b), (b'), (c')
def log_betabin(k: np.ndarray, n: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + betaln(k + a, n - k + b) - betaln(a, b)


def rate_draws(k: np.ndarray, n: np.ndarray, rng: np.random.Generator, mode: str) -> np.ndarray:
    """Posterior draws (DRAWS x conditions) of per-condition rates, k_g ~ Bin(n_g, p_g),
    p_g ~ Beta(mu kappa, (1 - mu) kappa). `mode` "eb": (mu, kappa) at their maximum marginal
    likelihood; "hb": integrated over their grid posterior under p(mu, kappa) ~ kappa^(-3/2);
    "none": each rate its own Jeffreys posterior."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    if mode == "none":
        return jeffreys(k, n, (DRAWS, len(k)), rng)
    mu, ka = np.meshgrid(MU, KAPPA, indexing="ij")
    ll = log_betabin(k, n, (mu * ka)[..., None], ((1 - mu) * ka)[..., None]).sum(-1)
    if mode == "eb":
        i, j = np.unravel_index(ll.argmax(), ll.shape)
        a, b = np.full(DRAWS, MU[i] * KAPPA[j]), np.full(DRAWS, (1 - MU[i]) * KAPPA[j])
    else:  # the grid is uniform in log kappa: d kappa = kappa d log kappa
        lp = ll - 1.5 * np.log(ka) + np.log(ka)
        w = np.exp(lp - lp.max()).ravel()
        pick = rng.choice(w.size, size=DRAWS, p=w / w.sum())
        a, b = (mu * ka).ravel()[pick], ((1 - mu) * ka).ravel()[pick]
    return rng.beta(a[:, None] + k, b[:, None] + n - k)


def per_condition(mode: str) -> Callable[[Run], Estimate]:
    def estimate(run: Run) -> Estimate:
        conds = run.model_conditions()
        counts = []
        for _, g in conds:  # (tp, fn, fp, tn) of the calls on the condition's validation images
            v = g[g["is_val"]]
            y, c = v["y_val"].to_numpy(), v["called"].to_numpy()
            counts.append([(y & c).sum(), (y & ~c).sum(), (~y & c).sum(), (~y & ~c).sum()])
        tp, fn, fp, tn = np.array(counts, dtype=float).T
        rng = np.random.default_rng(run.seed)
        se, sp = rate_draws(tp, tp + fn, rng, mode), rate_draws(tn, tn + fp, rng, mode)
        out = {}
        for j, (cond, g) in enumerate(conds):
            n, rest = len(g), g[~g["is_val"]]
            known = int(g.loc[g["is_val"], "y_val"].sum())
            m, k = len(rest), int(rest["called"].sum())
            point = float(rogan_gladen(k / m, np.median(se[:, j]), np.median(sp[:, j])))
            low, high = interval(rogan_gladen(jeffreys(k, m, DRAWS, rng), se[:, j], sp[:, j]))
            out[cond] = tuple((known + m * x) / n for x in (point, low, high))
        return out

    return estimate


# ---------------------------------------------------------------- the shipped readout, (d)
def mixture(run: Run) -> Estimate:
    """bps_labeler's readout() as the pipeline's readout rule calls it."""
    meta = pd.read_csv(run.root / "results" / "data" / "filtered_meta.csv")
    table = readout(run.answers, with_conditions(run.validation, meta), run.positive, seed=run.seed)
    table = table[table["answered_by"] != "condition"]
    return {
        tuple(r[c] for c in CONDITION): (r["share_corrected"], r["ci_low"], r["ci_high"]) for _, r in table.iterrows()
    }


CANDIDATES: dict[str, Callable[[Run], Estimate]] = {
    "raw: Jeffreys interval of the called share": raw,
    "(a) pooled Rogan-Gladen, Jeffreys draws (the old readout)": pooled_rogan_gladen,
    "(b) per-condition se/sp, empirical-Bayes Beta prior": per_condition("eb"),
    "(b') per-condition se/sp, hierarchical Bayes (Gelman prior)": per_condition("hb"),
    "(c') per-condition se/sp, unpooled Jeffreys": per_condition("none"),
    "(d) two-normal mixture on logit scores (the shipped readout)": mixture,
}
#: "raw", "a", "b", "b'", "c'", "d" -> the candidate's name
CANDIDATES_BY_KEY = {name.split(" ")[0].strip("():"): name for name in CANDIDATES}


# ---------------------------------------------------------------- evaluation
def label(row: pd.Series) -> str:
    return f"{row['particle_type']}/{row['dose_Gy']:g} Gy/{row['hr_post_exposure']} h"


def check(run: Run, rows: pd.DataFrame) -> str:
    """How far the run's own readout.csv lies from the candidate that should have made it."""
    csv = pd.read_csv(run.root / ROUND / "inference" / "readout.csv")
    csv = csv[csv["answered_by"] != "condition"]
    made_by = CANDIDATES_BY_KEY["d" if "n_validation" in csv.columns else "a"]
    mine = rows[rows["candidate"] == made_by].set_index(list(CONDITION))
    theirs = csv.set_index(list(CONDITION))[["share_corrected", "ci_low", "ci_high"]]
    diff = np.abs(mine[["point", "low", "high"]].to_numpy() - theirs.loc[mine.index].to_numpy()).max()
    return f"{run.name}: readout.csv made by {made_by.split(' ')[0]}, largest difference {diff:.4f}"


def evaluate(run: Run) -> pd.DataFrame:
    truth = run.answers.groupby(list(CONDITION))["true_track"].mean()
    n_val = run.answers.groupby(list(CONDITION))["is_val"].sum()
    n_images = run.answers.groupby(list(CONDITION)).size()
    rows = []
    for name, estimate in CANDIDATES.items():
        for cond, (point, low, high) in estimate(run).items():
            t = float(truth[cond])
            rows.append(
                {
                    "variant": run.name,
                    "chosen_on": run.name in CHOSEN_ON,
                    **dict(zip(CONDITION, cond)),
                    "candidate": name,
                    "n_images": int(n_images[cond]),
                    "n_validation": int(n_val[cond]),
                    "truth": t,
                    "point": point,
                    "low": low,
                    "high": high,
                    "covers": bool(low <= t <= high),
                    "width": high - low,
                }
            )
    return pd.DataFrame(rows)


def interval_text(row: pd.Series) -> str:
    mark = "" if row["covers"] else " MISS"
    return f"{row['point']:.3f} [{row['low']:.3f}, {row['high']:.3f}]{mark}"


def summary(df: pd.DataFrame) -> str:
    def cells(d: pd.DataFrame) -> str:
        if d.empty:
            return "none | - | -"
        return (
            f"{int(d['covers'].sum())}/{len(d)} ({d['covers'].mean():.0%}) | {d['width'].mean():.3f} | "
            f"{(d['point'] - d['truth']).abs().mean():.3f}"
        )

    lines = [
        "Conditions the model answers; covered = the 95 % interval holds the true share (truth.csv); "
        "MAE = mean absolute error of the point estimate.",
        "",
        "| candidate | chosen on: covered | width | MAE | held out: covered | width | MAE |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, d in df.groupby("candidate", sort=False):
        lines.append(f"| {name} | {cells(d[d['chosen_on']])} | {cells(d[~d['chosen_on']])} |")
    for name, d in df.groupby("candidate", sort=False):
        lines += [
            "",
            f"### {name}",
            "",
            "| generators | covered | mean width | MAE |",
            "|---|---|---|---|",
        ]
        for what, s in (("chosen on", d[d["chosen_on"]]), ("held out", d[~d["chosen_on"]]), ("all", d)):
            lines.append(f"| {what} ({s['variant'].nunique()}) | {cells(s)} |")
        misses = d[~d["covers"]]
        lines += [
            "",
            "Misses: "
            + (
                "; ".join(
                    f"{r['variant']}{'' if r['chosen_on'] else ' (held out)'} {label(r)}: truth {r['truth']:.4f}, "
                    f"[{r['low']:.4f}, {r['high']:.4f}]"
                    for _, r in misses.iterrows()
                )
                if len(misses)
                else "none"
            )
            + ".",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="read only the generators whose name matches this regex (writes nothing)")
    parser.add_argument("--runs", type=Path, default=REPO / "benchmarks" / "out" / "readout")
    args = parser.parse_args()
    start = time.perf_counter()
    names = {slug(name): name for name in VARIANTS}
    order = {name: i for i, name in enumerate(VARIANTS)}
    found, skipped = [], []
    for root in sorted(args.runs.iterdir()):
        name = names.get(root.name)
        if not (root / ROUND / "inference" / "answers.csv").exists():
            if name is not None and (not args.only or re.search(args.only, name)):
                skipped.append(f"{root.name} (no answers.csv yet)")
            continue
        if name is None:
            skipped.append(f"{root.name} (not a generator of generator_spread.VARIANTS)")
        elif args.only and not re.search(args.only, name):
            continue
        elif why := stale(root):
            skipped.append(f"{root.name} ({why})")
        else:
            found.append((name, root))
    found.sort(key=lambda item: (item[0] not in CHOSEN_ON, order[item[0]]))
    tables, checks, sources = [], [], {}
    for name, root in found:
        run = load(name, root)
        table = evaluate(run)
        tables.append(table)
        checks.append(check(run, table))
        sources[name] = run.source
        print(f"{name} ({'chosen on' if name in CHOSEN_ON else 'held out'}; labels from {run.source}):", flush=True)
        wide = table.assign(condition=table.apply(label, axis=1), ci=table.apply(interval_text, axis=1))
        wide = wide.pivot(index="condition", columns="candidate", values="ci")[list(CANDIDATES)]
        print(wide.rename(columns={v: k for k, v in CANDIDATES_BY_KEY.items()}).to_string(), "\n")
    if not tables:
        raise SystemExit(f"no finished run under {args.runs}" + (f"; skipped {', '.join(skipped)}" if skipped else ""))
    df = pd.concat(tables, ignore_index=True)
    text = summary(df)
    seconds = time.perf_counter() - start
    print(text)
    print("\n" + "\n".join(checks))
    if skipped:
        print("skipped: " + "; ".join(skipped))
    print(f"{seconds:.0f} s")
    if args.only or args.runs.resolve() != (REPO / "benchmarks" / "out" / "readout").resolve():
        return
    out = REPO / "docs" / "results"
    df.to_csv(out / "readout_estimators.tsv", sep="\t", index=False, float_format="%.4f")
    runs = "; ".join(
        f"{name} ({'chosen on' if name in CHOSEN_ON else 'held out'}, labels from {source})"
        for name, source in sources.items()
    )
    (out / "readout_estimators.md").write_text(
        "# Readout estimators on synthetic data\n\n"
        f"`.venv/bin/python benchmarks/readout_estimators.py`, run {time.strftime('%Y-%m-%d')} in {seconds:.0f} s, "
        f"on the round-2 runs of benchmarks/readout_coverage.py: {runs}."
        + (f" Skipped: {'; '.join(skipped)}." if skipped else "")
        + " What each candidate is: the script's docstring. The table behind it, a row per generator, condition "
        "and candidate: [readout_estimators.tsv](readout_estimators.tsv). The readout.csv of each run against "
        "the candidate that made it: " + "; ".join(checks) + ".\n\n" + text + "\n"
    )
    print(f"\ntables: {out / 'readout_estimators.tsv'}, {out / 'readout_estimators.md'}")


if __name__ == "__main__":
    main()
