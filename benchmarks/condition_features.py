"""The condition read by the classifier's head (train.condition_features): does the pipeline then
call the late, faded tracks it missed, and hold over all images beside the rule?

Every generator's whole-set run with the twelve line features (benchmarks/line_features_whole_set.py
made them, in benchmarks/out/line_features/; run it first) answered from the image alone. Each is
cloned (images hard-linked) into benchmarks/out/condition_features/ and rerun from training on with
this checkout's code and the config's default, which reads the hours and the dose: round 1's model
changes, so round 2's picks follow it, as in a real run. Round 2 (100 labels) beside the run as it
was, with the figures of line_features_whole_set: the 60 undecided validation images, every
undecided image no one labeled (about 900, the truth known) and the pipeline's answer over all
images beside the rule's. Writes docs/results/condition_features.{tsv,md}.

`--levels 1 3 10`: how the value of a level's column (conditions.LEVEL_VALUE) was chosen, on the
eight generators (the held-out two only check it). Round 2's model trained again on the same
labels as the run without the condition, with each value, and scored on the undecided images
no one labeled; the same labels, so only the head's input differs (about 45 s a generator and
value). Writes docs/results/condition_features_levels.{tsv,md}.

    .venv/bin/python benchmarks/condition_features.py [--only REGEX] [--cores N] [--again]
    .venv/bin/python benchmarks/condition_features.py --levels 1 3 10
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from generator_spread import slug
from line_features_whole_set import (
    CATS,
    TARGETS,
    comparison_rows,
    generators,
    write_comparison,
)
from pools import rerun_from_training, truth_of, unlabeled
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from threshold_skew import clone

import bps_labeler.models.conditions as conditions_module
from bps_labeler.labeling.annotations import read_labels
from bps_labeler.models.classifier import TrainSpec, train
from bps_labeler.models.conditions import LEVEL_VALUE, by_image
from bps_labeler.models.network import predict_proba

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "results"
BEFORE, NOW = "the image alone (before)", "the image, its hours and dose (now)"


def image_alone_runs(args: argparse.Namespace):
    """(name, held out, folder) of each whole-set run with the twelve features and no condition."""
    for name, (_, held) in generators().items():
        if args.only and not re.search(args.only, name):
            continue
        source = REPO / "benchmarks" / "out" / "line_features" / slug(name)
        if not (source / "results" / "round_2" / "inference" / "answers.csv").exists():
            print(f"{name}: no run in {source}; run benchmarks/line_features_whole_set.py first")
            continue
        yield name, held, source


def condition_shares(folder: Path) -> pd.Series:
    """Per undecided condition, the share of the unlabeled undecided images that carry a track,
    and the share round 2 calls one: where the misses gather."""
    every = unlabeled(folder)
    u = every[every["answered_by"] == "model"]
    key = u["dose_Gy"].map(lambda d: f"{d:g} Gy") + ", " + u["hr_post_exposure"].map(lambda h: f"{h:g} h")
    return (
        pd.DataFrame({"condition": key, "truth": u["truth"] == "track", "called": u["answer"] == "track"})
        .groupby("condition")[["truth", "called"]]
        .mean()
    )


def shares_text(pairs: list[tuple[str, Path, Path]]) -> str:
    """The per-condition shares of each generator, before and now."""
    lines = [
        "| generator | condition | share with a track | called, the image alone | called, with hours and dose |",
        "|---|---|---|---|---|",
    ]
    for name, before, now in pairs:
        a, b = condition_shares(before), condition_shares(now)
        for condition in a.index:
            lines.append(
                f"| {name} | {condition} | {a.loc[condition, 'truth']:.2f} | {a.loc[condition, 'called']:.2f} | "
                f"{b.loc[condition, 'called']:.2f} |"
            )
    return "\n".join(lines)


def same_labels(root: Path, level: float | None) -> dict[str, float]:
    """Round 2's model of `root` trained again on its labels, reading the hours and dose with
    levels of value `level` (None: the image alone), scored on the undecided images no one labeled."""
    labels = {}
    for r in (1, 2):
        labels.update(read_labels(root / "results" / f"round_{r}" / "annotations.json", CATS))
    meta = by_image(pd.read_csv(root / "results" / "data" / "filtered_meta.csv"))
    columns = () if level is None else ("hr_post_exposure", "dose_Gy")
    images = root / "results" / "data" / "images"
    tmp = REPO / "benchmarks" / "out" / "condition_features" / "same_labels.ckpt"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    every = unlabeled(root)
    undecided = (every["answered_by"] == "model").to_numpy()
    names = every.loc[undecided, "filename"].tolist()
    conditions_module.LEVEL_VALUE = LEVEL_VALUE if level is None else level
    try:  # the value the library reads; put back whatever happens
        spec = TrainSpec(condition_features=columns)
        backbone = root / "results" / "embeddings" / "backbone.pt"
        model = train(images, labels, backbone, CATS, spec, tmp, threads, conditions=meta)
        tmp.unlink()
        p = predict_proba(model, images, names, threads, conditions=meta)[:, CATS.index("track")]
    finally:
        conditions_module.LEVEL_VALUE = LEVEL_VALUE
    y = (every["filename"].map(truth_of(root)) == "track").to_numpy()
    called = np.zeros(len(every), dtype=bool)
    called[undecided] = p > 0.5
    return {
        "pool_balanced_accuracy": balanced_accuracy_score(y[undecided], called[undecided]),
        "pool_auroc": roc_auc_score(y[undecided], p),
        "pool_all_model_and_rule": balanced_accuracy_score(y, called),
        "pool_all_rule": balanced_accuracy_score(y, undecided),
    }


def levels(args: argparse.Namespace) -> None:
    rows = []
    for name, held, root in image_alone_runs(args):
        for level in [None, *args.levels]:
            rows.append({"generator": name, "held_out": held, "level": "none" if level is None else level})
            rows[-1].update(same_labels(root, level))
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(OUT / "condition_features_levels.tsv", sep="\t", index=False, float_format="%.4f")
    lines = [
        "| level value | generators | pool BA median / worst | AUROC median / worst | BA higher / lower than none | "
        "all unlabeled: at least the rule's |",
        "|---|---|---|---|---|---|",
    ]
    none = df[df["level"] == "none"].set_index("generator")
    for (level, held), d in df.groupby(["level", "held_out"], sort=False):
        d = d.set_index("generator")
        gain = d["pool_balanced_accuracy"] - none.loc[d.index, "pool_balanced_accuracy"]
        lines.append(
            f"| {level} | {'held out' if held else 'the eight'} | {d['pool_balanced_accuracy'].median():.3f} / "
            f"{d['pool_balanced_accuracy'].min():.3f} | {d['pool_auroc'].median():.3f} / {d['pool_auroc'].min():.3f} | "
            f"{int((gain > 0.0005).sum())} / {int((gain < -0.0005).sum())} | "
            f"{int((d['pool_all_model_and_rule'] >= d['pool_all_rule']).sum())} of {len(d)} |"
        )
    text = "\n".join(lines)
    (OUT / "condition_features_levels.md").write_text(
        "# The value of a condition level's column, chosen on the same labels\n\n"
        f"`benchmarks/condition_features.py --levels {' '.join(f'{v:g}' for v in args.levels)}`, last run "
        f"{time.strftime('%Y-%m-%d')}, 2 cores: on each whole-set run with the twelve features (the image "
        "alone), round 2's model trained again on the same 100 labels reading the hours and dose with each "
        "value (none: the image alone), scored on the undecided images no one labeled (about 900). "
        "[condition_features_levels.tsv](condition_features_levels.tsv).\n\n" + text + "\n"
    )
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="generators whose name matches this regular expression")
    parser.add_argument("--cores", default="all")
    parser.add_argument("--again", action="store_true", help="rerun the pipeline even where it ran")
    parser.add_argument("--levels", type=float, nargs="+", help="values of a level's column to compare, same labels")
    args = parser.parse_args()
    if args.levels:
        levels(args)
        return
    rows, pairs = [], []
    for name, held, source in image_alone_runs(args):
        root = REPO / "benchmarks" / "out" / "condition_features" / slug(name)
        if args.again or not (root / "results" / "round_2" / "inference" / "answers.csv").exists():
            clone(source, root)
            seconds = rerun_from_training(root, list(TARGETS), args.cores, "snakemake_conditions.log")
            (root / "rerun_seconds.txt").write_text(f"{seconds:.1f}\n")
        took = root / "rerun_seconds.txt"  # a table made again from the folders keeps the rerun's time
        seconds = float(took.read_text()) if took.exists() else float("nan")
        rows += comparison_rows(name, held, "head reads", {BEFORE: source, NOW: root}, seconds)
        pairs.append((name, source, root))
        print(pd.DataFrame(rows[-2:]).to_string(index=False), flush=True)
    intro = (
        "# The condition read by the classifier's head, on the whole synthetic set\n\n"
        f"`benchmarks/condition_features.py`, last run {time.strftime('%Y-%m-%d')}, 2 cores: each "
        "generator's whole-set run (3,400 images, all 17 conditions; the twelve line features, the image "
        "alone) beside the same run rerun from training on with `train.condition_features: [hr_post_exposure, "
        f"dose_Gy]` (one-hot levels of value {LEVEL_VALUE:g}), round 2 (100 labels). BA = balanced accuracy. "
        "[condition_features.tsv](condition_features.tsv)."
    )
    more = (
        "\n\n## Where the misses were: per condition\n\nThe unlabeled undecided images of each condition "
        "(about 180): the share that carries a track (the first run's images; each run leaves its own picks out), "
        "and the share round 2 calls one.\n\n" + shares_text(pairs)
    )
    print(write_comparison(rows, "head reads", "condition_features", intro, more))


if __name__ == "__main__":
    main()
