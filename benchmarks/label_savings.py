"""How many labels does the default selection save, over generators and over both scopes?

The headline for selection (issue 27): the labels the default config needs to reach the balanced
accuracy random selection has at 100 labels, on the undecided validation images; 60 would be a
1.7x saving. A figure from one generator is a hint, so this reads it on every generator variant
of benchmarks/generator_spread.py and on both pools: the default subset and the whole synthetic
set (all 17 conditions, `--pool all`).

Each (generator, pool) is one run of benchmarks/label_efficiency.py, random against the default
config (`--headline`), seeds from 100 (never used for choosing), run here where its table is
missing. The variants use the pool's own SimCLR backbone for every seed (`--pipeline-backbone`,
to keep a variant to minutes), so their intervals are over seeds given that backbone; the
built-in generator's rows come from the full tables (every seed its own backbone, every
strategy). Prints a row per generator and pool and the median over generators per pool; writes
docs/results/label_savings.{tsv,md}.

    .venv/bin/python benchmarks/label_savings.py [--seeds 5] [--only REGEX]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from generator_spread import VARIANTS, slug
from label_efficiency import DEFAULT, aubc_difference, savings

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"
BUILT_IN = "built-in (default)"


def table_of(generator: str, pool: str, seeds: int, run: bool = True) -> Path:
    """The raw rows of one label-efficiency run, run first where missing (unless `run` is off)."""
    last = 100 + seeds - 1
    if generator == BUILT_IN:
        return RESULTS / f"label_efficiency_fast{'' if pool == 'subset' else '_all'}_seeds100-{last}.csv"
    stem = f"label_efficiency_fast{'' if pool == 'subset' else '_all'}_{slug(generator)}"
    path = RESULTS / f"{stem}_pipeline-backbone_headline_seeds100-{last}.csv"
    if not path.exists() and run:
        cmd = [sys.executable, str(REPO / "benchmarks" / "label_efficiency.py"), "--headline", "--pipeline-backbone"]
        cmd += ["--generator", generator, "--pool", pool, "--seeds", str(seeds)]
        subprocess.run(cmd, check=True)
    return path


def row_of(generator: str, pool: str, df: pd.DataFrame) -> dict:
    need = savings(df)
    d = aubc_difference(df, DEFAULT)
    top = df["n_labels"].max()
    at = df[df["n_labels"] == top].groupby("strategy")["balanced_accuracy"].mean()
    return {
        "generator": generator,
        "pool": pool,
        "backbones": "one per seed" if df["backbone"].nunique() > 1 else "the pool's own",
        "seeds": df["seed"].nunique(),
        "random_at_100": round(float(at["random"]), 3),
        "default_at_100": round(float(at[DEFAULT]), 3),
        "default_labels_to_random_at_100": round(float(need.loc[DEFAULT, "labels_to_random_at_max"]), 1),
        # random's own curve read the same way: where random itself gets there at 20, its curve is
        # flat and no strategy can save labels; the saving is random's labels over the default's
        "random_labels_to_random_at_100": round(float(need.loc["random", "labels_to_random_at_max"]), 1),
        "aubc_difference_points": round(d["mean"], 1),
        "ci_low": round(d["low"], 1),
        "ci_high": round(d["high"], 1),
        "first_budget": int(df["n_labels"].min()),
    }


def report(df: pd.DataFrame) -> str:
    lines = [
        "Undecided validation images. Labels the default config needs to reach random's balanced "
        "accuracy at 100 labels (read off the mean curves over seeds; '<= 20' where its first round "
        "already does, '> 100' where it never does), and its area under the budget curve minus "
        "random's, in points, with the 95 % interval.",
        "",
        "| pool | generator | random at 100 | default at 100 | default's labels to random's 100 "
        "| random's own | AUBC minus random (95 % CI) | backbones |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def labels(n: float, first: int) -> str:
        return "> 100" if np.isnan(n) else (f"<= {first}" if n == first else f"{n:.0f}")

    for r in df.itertuples():
        lines.append(
            f"| {r.pool} | {r.generator} | {r.random_at_100:.3f} | {r.default_at_100:.3f} | "
            f"{labels(r.default_labels_to_random_at_100, r.first_budget)} | "
            f"{labels(r.random_labels_to_random_at_100, r.first_budget)} | "
            f"{r.aubc_difference_points:+.1f} ({r.ci_low:+.1f} to {r.ci_high:+.1f}) | {r.backbones} |"
        )
    lines.append("")
    for pool, d in df.groupby("pool", sort=False):
        need = d["default_labels_to_random_at_100"].fillna(np.inf)
        below = d[d["ci_high"] < 0]
        flat = d[d["random_labels_to_random_at_100"] <= d["first_budget"]]
        lines.append(
            f"{pool}: median labels to random's 100 over {len(d)} generators {np.median(need):.0f} "
            f"(goal <= 60); at most 60 on {int((need <= 60).sum())}; default below random beyond its "
            f"interval on {len(below)}" + (f" ({', '.join(below['generator'])})" if len(below) else "") + "; "
            f"random's own curve flat from its first round (no saving possible) on {len(flat)}"
            + (f" ({', '.join(flat['generator'])})" if len(flat) else "")
            + "."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", help="only the generators whose name matches this regex (no table written)")
    parser.add_argument(
        "--no-run",
        action="store_true",
        help="summarize the runs there are; list the missing ones instead of running them",
    )
    args = parser.parse_args()
    rows, missing = [], []
    for pool in ("subset", "all"):
        for generator in VARIANTS:
            if args.only and not re.search(args.only, generator):
                continue
            path = table_of(generator, pool, args.seeds, run=not args.no_run)
            if not path.exists():
                missing.append(f"{generator} ({pool})")
                continue
            rows.append(row_of(generator, pool, pd.read_csv(path)))
    df = pd.DataFrame(rows)
    text = report(df)
    if missing:
        text += (
            "\n\nNot run (time; `benchmarks/label_savings.py` without `--no-run` runs them): "
            + "; ".join(missing)
            + "."
        )
    print(text)
    if not args.only:
        df.to_csv(RESULTS / "label_savings.tsv", sep="\t", index=False)
        (RESULTS / "label_savings.md").write_text(text + "\n")
        print(f"\ntables: {RESULTS / 'label_savings.tsv'}, {RESULTS / 'label_savings.md'}")


if __name__ == "__main__":
    main()
