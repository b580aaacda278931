"""How much the self-supervised features know about tracks, per embedding setting, and their cost.

Selection can only be as good as the features it measures distances in, and the classifier
starts from the same backbone. For each setting this trains SimCLR on the default run's pool
(as the embed rule does), then fits the class-balanced logistic regression on N randomly chosen
labeled pool images (10 draws per N) and scores the validation images. An untrained network
with the same input is the floor. This is the evidence for the default `embed` settings.

    .venv/bin/python benchmarks/embedding_quality.py [--labels 20 50 100] [--draws 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from bps_labeler.annotations import read_truth
from bps_labeler.classifier import head_features, linear_probe
from bps_labeler.embed import EmbedSpec, features, load_backbone, make_backbone, train_embeddings
from bps_labeler.images import load_images
from bps_labeler.split import split_filenames

REPO = Path(__file__).resolve().parents[1]

#: name -> settings that differ from EmbedSpec's defaults (the default config's).
SETTINGS: dict[str, dict] = {
    "untrained, 128 px, foci channel": {"epochs": 0},
    "96 px, batch 128, image only (before)": {"input_size": 96, "batch_size": 128, "foci_channel": False},
    "96 px, batch 32, image only": {"input_size": 96, "foci_channel": False},
    "96 px, batch 32, foci channel": {"input_size": 96},
    "128 px, batch 32, foci channel (default)": {},
}


def ensure_inputs() -> None:
    needed = ["results/data/split.csv", "results/data/images/manifest.tsv"]
    if not all((REPO / n).exists() for n in needed):
        snakemake = str(Path(sys.executable).with_name("snakemake"))
        subprocess.run([snakemake, "--cores", "all", *needed], cwd=REPO, check=True)


def backbone_for(spec: EmbedSpec, train: list[str], out: Path) -> tuple[torch.nn.Module, float]:
    """(network, seconds of SimCLR training); epochs == 0 gives the untrained network."""
    if spec.epochs == 0:
        torch.manual_seed(spec.seed)
        return make_backbone(spec.backbone)[0], 0.0
    t = time.perf_counter()
    train_embeddings(REPO / "results" / "data" / "images", train, spec, out / "embeddings.csv",
                     out / "backbone.pt", threads=torch.get_num_threads())
    seconds = time.perf_counter() - t
    return load_backbone(out / "backbone.pt")[0], seconds


def probe(x_tr: np.ndarray, y_tr: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
          n: int, draws: int) -> tuple[float, float]:
    """Mean balanced accuracy and AUROC of the linear probe on `n` random labels."""
    baccs, aucs = [], []
    for d in range(draws if n < len(y_tr) else 1):
        idx = np.random.default_rng(d).permutation(len(y_tr))[:n]
        if len(set(y_tr[idx])) < 2:
            continue
        clf = linear_probe(x_tr[idx], y_tr[idx])
        baccs.append(balanced_accuracy_score(y_val, clf.predict(x_val)))
        aucs.append(roc_auc_score(y_val, clf.predict_proba(x_val)[:, 1]))
    return float(np.mean(baccs)), float(np.mean(aucs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[20, 50, 100])
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    ensure_inputs()
    results = REPO / "results"
    truth = read_truth(REPO / "resources" / "synthetic" / "truth.csv")
    train = split_filenames(results / "data" / "split.csv", "train")
    val = split_filenames(results / "data" / "split.csv", "val")
    y_tr = np.array([truth[n] == "track" for n in train])
    y_val = np.array([truth[n] == "track" for n in val])
    sizes = [*args.labels, len(train)]
    print(f"pool {len(train)} images ({y_tr.mean():.0%} track), validation {len(val)}; "
          f"linear probe, mean of {args.draws} random label draws")
    header = " | ".join(f"{n} labels" for n in sizes)
    lines = [f"| setting | SimCLR s | {header} (balanced accuracy / AUROC) |", "|---" * (len(sizes) + 2) + "|"]
    for name, change in SETTINGS.items():
        spec = dataclasses.replace(EmbedSpec(), **change)
        net, seconds = backbone_for(spec, train, REPO / "benchmarks" / "out" / "embedding_quality")
        x_tr, x_val = (features(net, load_images(results / "data" / "images", names, spec.input_size,
                                                 spec.foci_channel)) for names in (train, val))
        x_tr, x_val = head_features(x_tr), head_features(x_val)
        cells = [probe(x_tr, y_tr, x_val, y_val, n, args.draws) for n in sizes]
        lines.append(f"| {name} | {seconds:.0f} | " + " | ".join(f"{b:.3f} / {a:.3f}" for b, a in cells) + " |")
        print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
