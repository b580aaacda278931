"""How much the self-supervised features know about tracks, per embedding setting, and their cost.

Selection can only be as good as the features it measures distances in, and the classifier
starts from the same backbone. For each setting this trains SimCLR on the pool of the default
run (or of `--configfile`, any config whose oracle has a truth file), as the embed rule does,
then fits the class-balanced logistic regression on N randomly chosen labeled pool images (10
draws per N) and scores the validation images. As in the pipeline, labels come only from the
undecided images (those `known_answers` does not answer) and the headline is the undecided
validation images; an untrained network with the same input is the floor. This is the evidence
for the default `embed` settings; the table goes to docs/results/ (committed).

    .venv/bin/python benchmarks/embedding_quality.py [--labels 20 50 100] [--draws 10] [--configfile FILE]
        [--only REGEX] [--tables STEM]
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pools
import torch
import yaml
from probe import probe

from bps_labeler.data.images import load_images
from bps_labeler.data.split import split_filenames
from bps_labeler.embeddings.backbone import features, load_backbone, make_backbone
from bps_labeler.embeddings.simclr import EmbedSpec, train_embeddings
from bps_labeler.labeling.annotations import read_truth
from bps_labeler.labeling.known_answers import read_known
from bps_labeler.models.classifier import head_features

REPO = Path(__file__).resolve().parents[1]

#: name -> settings that differ from EmbedSpec's defaults (the default config's).
SETTINGS: dict[str, dict] = {
    "untrained, 128 px, foci channel": {"epochs": 0},
    "96 px, batch 128, image only (before)": {"input_size": 96, "batch_size": 128, "foci_channel": False},
    "96 px, batch 32, image only": {"input_size": 96, "foci_channel": False},
    "96 px, batch 32, foci channel": {"input_size": 96},
    "128 px, batch 32, foci channel (default)": {},
    # issue 30: SimCLR's epochs are most of `make run`'s time
    "128 px, batch 32, foci channel, 3 epochs": {"epochs": 3},
    "128 px, batch 32, foci channel, 10 epochs": {"epochs": 10},
}


def backbone_for(spec: EmbedSpec, images: Path, train: list[str], out: Path) -> tuple[torch.nn.Module, float]:
    """(network, seconds of SimCLR training); epochs == 0 gives the untrained network."""
    if spec.epochs == 0:
        torch.manual_seed(spec.seed)
        return make_backbone(spec.backbone)[0], 0.0
    t = time.perf_counter()
    train_embeddings(images, train, spec, out / "embeddings.csv", out / "backbone.pt", threads=torch.get_num_threads())
    seconds = time.perf_counter() - t
    return load_backbone(out / "backbone.pt")[0], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument(
        "--configfile", type=Path, default=pools.DEFAULT_CONFIG, help="any config whose oracle has a truth file"
    )
    parser.add_argument("--only", help="run only the settings whose name matches this regex")
    parser.add_argument("--tables", help="write the table to docs/results/TABLES.md (without --only it is written)")
    args = parser.parse_args()
    root = pools.build(
        args.configfile,
        ["results/data/split.csv", "results/data/images", "results/data/filtered_meta.csv"],
    )
    cfg = yaml.safe_load((root / "config" / "config.yaml").read_text())
    results = root / "results"
    truth = read_truth(pools.truth_file(root, cfg))
    known = read_known(results / "data" / "filtered_meta.csv", cfg["known_answers"])
    undecided = {n for n in known.index if pd.isna(known[n])}
    split = results / "data" / "split.csv"
    pool = split_filenames(split, "train")
    train = [n for n in pool if n in undecided]  # what people may label
    val = [n for n in split_filenames(split, "val") if n in undecided]
    y_tr = np.array([truth[n] == "track" for n in train])
    y_val = np.array([truth[n] == "track" for n in val])
    sizes = [n for n in args.labels if n < len(train)] + [len(train)]
    intro = (
        f"{root.name if root != pools.REPO else 'default config'}: pool {len(pool)} images, of which "
        f"{len(train)} undecided ({y_tr.mean():.0%} track); {len(val)} undecided validation images; "
        f"linear probe, mean of {args.draws} random label draws"
    )
    print(intro)
    header = " | ".join(f"{n} labels" for n in sizes)
    lines = [
        intro,
        "",
        f"| setting | SimCLR s | {header} (balanced accuracy / AUROC, undecided images) |",
        "|---" * (len(sizes) + 2) + "|",
    ]
    base = EmbedSpec(**cfg["embed"], seed=cfg["seed"])
    for name, change in SETTINGS.items():
        if args.only and not re.search(args.only, name):
            continue
        spec = dataclasses.replace(base, **change)
        out = REPO / "benchmarks" / "out" / "embedding_quality" / (root.name if root != pools.REPO else "default")
        # SimCLR trains on the whole pool, as the embed rule does; the probe sees undecided labels
        net, seconds = backbone_for(spec, results / "data" / "images", pool, out)
        x_tr, x_val = (
            features(net, load_images(results / "data" / "images", names, spec.input_size, spec.foci_channel))
            for names in (train, val)
        )
        x_tr, x_val = head_features(x_tr), head_features(x_val)
        cells = [probe(x_tr, y_tr, x_val, y_val, n, args.draws) for n in sizes]
        lines.append(f"| {name} | {seconds:.0f} | " + " | ".join(f"{b:.3f} / {a:.3f}" for b, a in cells) + " |")
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    if args.tables or not args.only:
        stem = args.tables or "embedding_quality" + (
            "" if pools.is_default(args.configfile) else f"_{args.configfile.stem}"
        )
        (REPO / "docs" / "results" / f"{stem}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
