"""Learned features, classical foci-and-line features, or both: which see tracks, on which data?

For the default run and every generator variant that benchmarks/generator_spread.py built (its
folders under benchmarks/out/generators/), this takes the pipeline's own SimCLR backbone and the
classical features of `bps_labeler.models.foci`, and fits the pipeline's class-balanced linear probe on
N random labels of undecided pool images (10 draws per N), scoring the undecided validation
images. The classical features' settings were chosen on the built-in data set only, so the
variants are data they were not tuned on. Prints the table and the seconds the classical features
take per image; writes it to docs/results/line_features.md (committed).

    .venv/bin/python benchmarks/line_features.py [--labels 20 50 100] [--draws 10]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pools
import yaml
from probe import probe

from bps_labeler.data.images import load_images
from bps_labeler.data.split import split_filenames
from bps_labeler.embeddings.backbone import features, load_backbone
from bps_labeler.labeling.annotations import read_truth
from bps_labeler.labeling.known_answers import read_known
from bps_labeler.models.classifier import head_features
from bps_labeler.models.foci import image_features

REPO = pools.REPO


def folders() -> list[Path]:
    roots = [REPO]
    roots += sorted(
        p
        for p in (REPO / "benchmarks" / "out" / "generators").glob("*")
        if (p / "results" / "embeddings" / "backbone.pt").exists() and p.name != "built-in-default"
    )
    return roots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    header = " | ".join(f"{n} labels" for n in args.labels)
    lines = [
        (
            "Undecided validation images: linear probe on N random undecided pool labels (mean of "
            f"{args.draws} draws), balanced accuracy / AUROC"
        ),
        "",
        f"| data | features | {header} |",
        "|---" * (len(args.labels) + 2) + "|",
    ]
    seconds, images = 0.0, 0
    for root in folders():
        cfg = yaml.safe_load((root / "config" / "config.yaml").read_text())
        results = root / "results"
        truth = read_truth(pools.truth_file(root, cfg))
        known = read_known(results / "data" / "filtered_meta.csv", cfg["known_answers"])
        split = results / "data" / "split.csv"
        train = [n for n in split_filenames(split, "train") if pd.isna(known[n])]
        val = [n for n in split_filenames(split, "val") if pd.isna(known[n])]
        y_tr = np.array([truth[n] == "track" for n in train])
        y_val = np.array([truth[n] == "track" for n in val])
        net, made = load_backbone(results / "embeddings" / "backbone.pt")
        learned = [
            head_features(
                features(net, load_images(results / "data" / "images", names, made["input_size"], made["foci_channel"]))
            )
            for names in (train, val)
        ]
        t = time.perf_counter()
        classical = [image_features(results / "data" / "images", names) for names in (train, val)]
        seconds += time.perf_counter() - t
        images += len(train) + len(val)
        k = classical[0].shape[1]
        both = [np.hstack([a, b]) for a, b in zip(learned, classical)]
        name = "built-in (default)" if root == REPO else root.name
        for label, (x_tr, x_val), scale in (
            ("learned (SimCLR backbone)", learned, None),
            ("classical foci and line", classical, slice(0, k)),
            ("both", both, slice(learned[0].shape[1], learned[0].shape[1] + k)),
        ):
            cells = [probe(x_tr, y_tr, x_val, y_val, n, args.draws, scale) for n in args.labels]
            lines.append(
                f"| {name} ({len(val)} val, {int(y_val.sum())} tracks) | {label} | "
                + " | ".join(f"{b:.3f} / {a:.3f}" for b, a in cells)
                + " |"
            )
            print(lines[-1], flush=True)
    lines += ["", f"classical features: {1000 * seconds / max(images, 1):.1f} ms per image on this machine"]
    text = "\n".join(lines)
    print(text)
    (REPO / "docs" / "results" / "line_features.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
