"""The condition read by the classifier's head (train.condition_features): does the pipeline then
call the late, faded tracks it missed, and hold over all images beside the rule?

Every generator's whole-set run with the twelve line features (benchmarks/line_features_whole_set.py
made them, in benchmarks/out/line_features/; run it first) answered from the image alone. Each is
cloned (images hard-linked) into benchmarks/out/condition_features/ and rerun from training on with
this checkout's code and the config's default, which reads the hours and the dose: round 1's model
changes, so round 2's picks follow it, as in a real run. Round 2 (100 labels) beside the run as it
was, with the figures of line_features_whole_set: the 60 undecided validation images, every
undecided image no one labeled (about 900, the truth known) and the pipeline's answer over all
images beside the rule's. The value of a level (conditions.LEVEL_VALUE) was chosen on the eight
generators; the held-out two only check it. Writes docs/results/condition_features.{tsv,md}.

    .venv/bin/python benchmarks/condition_features.py [--only REGEX] [--cores N] [--again]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import pandas as pd
from generator_spread import slug
from line_features_whole_set import TARGETS, comparison_text, generators, pool_figures, validation_figures
from pools import rerun_from_training
from threshold_skew import clone

from bps_labeler.models.conditions import LEVEL_VALUE

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "results"
BEFORE, NOW = "the image alone (before)", "the image, its hours and dose (now)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="generators whose name matches this regular expression")
    parser.add_argument("--cores", default="all")
    parser.add_argument("--again", action="store_true", help="rerun the pipeline even where it ran")
    args = parser.parse_args()
    rows = []
    for name, (_, held) in generators().items():
        if args.only and not re.search(args.only, name):
            continue
        source = REPO / "benchmarks" / "out" / "line_features" / slug(name)
        if not (source / "results" / "round_2" / "inference" / "answers.csv").exists():
            print(f"{name}: no run in {source}; run benchmarks/line_features_whole_set.py first")
            continue
        root = REPO / "benchmarks" / "out" / "condition_features" / slug(name)
        seconds = float("nan")
        if args.again or not (root / "results" / "round_2" / "inference" / "answers.csv").exists():
            clone(source, root)
            seconds = rerun_from_training(root, list(TARGETS), args.cores, "snakemake_conditions.log")
        for head, folder in ((BEFORE, source), (NOW, root)):
            rows.append(
                {
                    "generator": name,
                    "held_out": held,
                    "head reads": head,
                    **validation_figures(folder),
                    **pool_figures(folder),
                    "minutes": round(seconds / 60, 1) if folder == root else float("nan"),
                }
            )
        print(pd.DataFrame(rows[-2:]).to_string(index=False), flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(OUT / "condition_features.tsv", sep="\t", index=False, float_format="%.4f")
    text = comparison_text(df, "head reads")
    (OUT / "condition_features.md").write_text(
        "# The condition read by the classifier's head, on the whole synthetic set\n\n"
        f"`benchmarks/condition_features.py`, last run {time.strftime('%Y-%m-%d')}, 2 cores: each "
        "generator's whole-set run (3,400 images, all 17 conditions; the twelve line features, the image "
        "alone) beside the same run rerun from training on with `train.condition_features: [hr_post_exposure, "
        f"dose_Gy]` (one-hot levels of value {LEVEL_VALUE:g}), round 2 (100 labels). BA = balanced accuracy. "
        "[condition_features.tsv](condition_features.tsv).\n\n" + text + "\n"
    )
    print(text)


if __name__ == "__main__":
    main()
