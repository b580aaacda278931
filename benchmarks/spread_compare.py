"""Does a cheaper setting cost accuracy? Two sets of generator_spread runs side by side.

A setting that saves time (fewer SimCLR epochs, a smaller input, lower precision) may only become
the default where the undecided-image figures do not fall by more than 0.01 (issue 30). One run
per generator moves by what an image or two weighs on the 100 undecided validation images, so
this also scores round 2 on every undecided image neither run trained on (the same images for
both, about 250 a generator on the default subset) and gives a paired bootstrap 95 % interval of
the change there: images resampled, so it says how much of a change the draw of images explains,
not another draw of labels or of SimCLR's random path.

    .venv/bin/python benchmarks/generator_spread.py --cores 2                       # before
    .venv/bin/python benchmarks/generator_spread.py --cores 2 --epochs 3 --out generators_epochs3
    .venv/bin/python benchmarks/spread_compare.py generators generators_epochs3 [--tables STEM]

Both folders are under benchmarks/out/ (generator_spread's `--out`); generators run in only one
of them are left out. Prints the table; `--tables` also writes docs/results/STEM.{md,tsv}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import yaml
from generator_spread import VARIANTS, gain_interval, slug
from pools import unlabeled
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

REPO = Path(__file__).resolve().parents[1]


def validation_figures(root: Path, r: int) -> tuple[float, float]:
    """The round's model on the undecided validation images: (balanced accuracy, AUROC)."""
    und = json.loads((root / "results" / f"round_{r}" / "metrics.json").read_text())["baselines"]["undecided"]
    return und["model"]["balanced_accuracy"], und["model"]["auroc"]


def common_unlabeled(before: Path, after: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Round 2's undecided answers of both runs on the images neither trained on, in one order."""
    a, b = (unlabeled(root) for root in (before, after))
    a, b = (d[d["answered_by"] == "model"].set_index("filename") for d in (a, b))
    names = a.index.intersection(b.index).sort_values()
    return a.loc[names], b.loc[names]


def seconds(root: Path) -> float:
    took = root / "run_seconds.txt"
    return float(took.read_text()) if took.exists() else float("nan")


def settings_of(root: Path) -> str:
    embed = yaml.safe_load((root / "config" / "config.yaml").read_text())["embed"]
    return f"{embed['backbone']}, {embed['epochs']} epochs, {embed['input_size']} px, {embed['precision']}"


def compare(before: Path, after: Path) -> pd.DataFrame:
    rows = []
    for name in VARIANTS:
        a, b = before / slug(name), after / slug(name)
        if not all((root / "results" / "round_2" / "inference" / "answers.csv").exists() for root in (a, b)):
            continue
        for r in (1, 2):
            (ba_a, au_a), (ba_b, au_b) = validation_figures(a, r), validation_figures(b, r)
            row = {
                "generator": name,
                "round": r,
                "val_bacc_before": ba_a,
                "val_bacc_after": ba_b,
                "val_auroc_before": au_a,
                "val_auroc_after": au_b,
                "minutes_before": round(seconds(a) / 60, 1),
                "minutes_after": round(seconds(b) / 60, 1),
            }
            if r == 2:
                pa, pb = common_unlabeled(a, b)
                y = (pa["truth"] == "track").to_numpy()
                calls_a, calls_b = (pa["answer"] == "track").to_numpy(), (pb["answer"] == "track").to_numpy()
                low, high = gain_interval(y, calls_b, calls_a)  # after's gain over before
                row |= {
                    "pool_n": len(y),
                    "pool_bacc_before": balanced_accuracy_score(y, calls_a),
                    "pool_bacc_after": balanced_accuracy_score(y, calls_b),
                    "pool_auroc_before": roc_auc_score(y, pa["p_track"]),
                    "pool_auroc_after": roc_auc_score(y, pb["p_track"]),
                    "pool_bacc_change_low": low,
                    "pool_bacc_change_high": high,
                }
            rows.append(row)
    if not rows:
        raise SystemExit(f"no generator has finished runs in both {before} and {after}")
    return pd.DataFrame(rows)


def report(df: pd.DataFrame, before: Path, after: Path) -> str:
    first = before / slug(df["generator"].iloc[0])
    second = after / slug(df["generator"].iloc[0])
    lines = [
        f"Before: {before.name} ({settings_of(first)}); after: {after.name} ({settings_of(second)}). Undecided images, "
        "balanced accuracy (AUROC in brackets): the 100 validation images per round, and at round 2 every undecided "
        "image neither run trained on (the same images for both), with the change's paired bootstrap 95 % interval.",
        "",
        "| generator | round | validation, before | validation, after | change | unlabeled: n | unlabeled, before "
        "| unlabeled, after | change (95 % interval) | minutes, before | minutes, after |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in df.itertuples():
        pool = (
            f"{row.pool_n:.0f} | {row.pool_bacc_before:.3f} ({row.pool_auroc_before:.3f}) | "
            f"{row.pool_bacc_after:.3f} ({row.pool_auroc_after:.3f}) | "
            f"{row.pool_bacc_after - row.pool_bacc_before:+.3f} ({row.pool_bacc_change_low:+.3f} to "
            f"{row.pool_bacc_change_high:+.3f})"
            if row.round == 2
            else " | | | "
        )
        lines.append(
            f"| {row.generator} | {row.round} | {row.val_bacc_before:.3f} ({row.val_auroc_before:.3f}) | "
            f"{row.val_bacc_after:.3f} ({row.val_auroc_after:.3f}) | {row.val_bacc_after - row.val_bacc_before:+.3f} "
            f"({row.val_auroc_after - row.val_auroc_before:+.3f}) | {pool} | {row.minutes_before} | "
            f"{row.minutes_after} |"
        )
    val_ba = df["val_bacc_after"] - df["val_bacc_before"]
    val_au = df["val_auroc_after"] - df["val_auroc_before"]
    r2 = df[df["round"] == 2]
    pool_ba = r2["pool_bacc_after"] - r2["pool_bacc_before"]
    pool_au = r2["pool_auroc_after"] - r2["pool_auroc_before"]
    n = df["generator"].nunique()
    lines += [
        "",
        f"Validation images, {len(df)} rounds of {n} generators: balanced accuracy change median {val_ba.median():+.3f}"
        f" (worst {val_ba.min():+.3f}, below -0.01 in {int((val_ba < -0.01).sum())}); AUROC change median "
        f"{val_au.median():+.3f} (worst {val_au.min():+.3f}).",
        f"Round 2 on the unlabeled undecided images, {n} generators: balanced accuracy change median "
        f"{pool_ba.median():+.3f} (worst {pool_ba.min():+.3f}, below -0.01 in {int((pool_ba < -0.01).sum())}, "
        f"below zero beyond the interval in {int((r2['pool_bacc_change_high'] < 0).sum())}); AUROC change median "
        f"{pool_au.median():+.3f} (worst {pool_au.min():+.3f}).",
        f"Minutes a run (to round 2 and its answers on the pool): median {df['minutes_before'].median():.1f} before, "
        f"{df['minutes_after'].median():.1f} after.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="generator_spread's --out folder of the current setting")
    parser.add_argument("after", help="generator_spread's --out folder of the setting tried")
    parser.add_argument("--tables", help="also write docs/results/TABLES.{md,tsv}")
    args = parser.parse_args()
    out = REPO / "benchmarks" / "out"
    before, after = out / args.before, out / args.after
    df = compare(before, after)
    text = report(df, before, after)
    print(text)
    if args.tables:
        stem = REPO / "docs" / "results" / args.tables
        df.to_csv(stem.with_suffix(".tsv"), sep="\t", index=False)
        stem.with_suffix(".md").write_text(text + "\n")
        print(f"\ntables: {stem}.md, {stem}.tsv")


if __name__ == "__main__":
    main()
