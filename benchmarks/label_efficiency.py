"""Label efficiency of selection strategies against random, over several seeds.

Simulates the active-learning loop with the oracle: each round a strategy picks `--batch` images
of the pool (through the pipeline's own `select`), the oracle labels them, a classifier is trained
on all labels so far and scored on the validation images. Fast mode (default) trains a
class-balanced logistic regression on frozen self-supervised features; full mode fine-tunes the
pipeline's CNN classifier (LP-FT) and is much slower.

Needs the default run's data and backbone (built first with snakemake if missing). Prints, per
strategy and round, the mean and standard deviation over seeds of balanced accuracy and AUROC,
the area under the budget curve (AUBC: mean balanced accuracy over rounds), and the paired
difference of each strategy's AUBC from random's; writes the table and a plot to benchmarks/out/.

    .venv/bin/python benchmarks/label_efficiency.py [--seeds 5] [--rounds 5] [--batch 20] [--mode fast]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from bps_labeler.annotations import read_truth
from bps_labeler.classifier import FEATURE_SCALE, TrainSpec, predict_proba, train
from bps_labeler.embed import EmbedSpec, features, load_backbone, read_backbone, read_embeddings, train_embeddings
from bps_labeler.images import load_images
from bps_labeler.lightly_metadata import metadata_table
from bps_labeler.selection import Pool, select
from bps_labeler.split import split_filenames

REPO = Path(__file__).resolve().parents[1]
CATS = ("track", "no track")
ENTROPY = {"input": {"type": "SCORES", "task": "bps-classification", "score": "uncertainty_entropy"},
           "strategy": {"type": "WEIGHTS"}}
DIVERSITY = {"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY"}}
TYPICALITY = {"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "TYPICALITY", "num_nearest_neighbors": 20}}
BALANCE = {"input": {"type": "METADATA", "key": "particle_type"},
           "strategy": {"type": "BALANCE", "target": {"Fe": 0.5, "X-ray": 0.5}}}

#: name -> (round-1 strategies, later-round strategies); RANDOM strategies get the seed filled in.
STRATEGIES: dict[str, tuple[list, list]] = {
    "random": ([{"input": {"type": "RANDOM"}, "strategy": {"type": "WEIGHTS"}}],
               [{"input": {"type": "RANDOM"}, "strategy": {"type": "WEIGHTS"}}]),
    "tutorial": ([DIVERSITY, BALANCE], [ENTROPY]),
    "tutorial+diverse-uncertainty": ([DIVERSITY, BALANCE], [ENTROPY, DIVERSITY]),
    "typical-diverse, then entropy": ([TYPICALITY, DIVERSITY], [ENTROPY]),
    "typical-diverse, then diverse-uncertainty": ([TYPICALITY, DIVERSITY], [ENTROPY, DIVERSITY]),
    "typical-diverse, then typical-uncertainty": ([TYPICALITY, DIVERSITY], [ENTROPY, TYPICALITY]),
    "typical-diverse, then typical-diverse-uncertainty": ([TYPICALITY, DIVERSITY], [ENTROPY, TYPICALITY, DIVERSITY]),
    "typical-diverse throughout (no model)": ([TYPICALITY, DIVERSITY], [TYPICALITY, DIVERSITY]),
    "typical-diverse-balanced, then entropy": ([TYPICALITY, DIVERSITY, BALANCE], [ENTROPY]),
    "typical-diverse-balanced, then typical-diverse-uncertainty": ([TYPICALITY, DIVERSITY, BALANCE],
                                                                   [ENTROPY, TYPICALITY, DIVERSITY]),
}


def seeded(strategies: list, seed: int) -> list:
    out = []
    for s in strategies:
        s = {"input": dict(s["input"]), "strategy": dict(s["strategy"])}
        if s["input"]["type"] == "RANDOM":
            s["input"]["random_seed"] = seed
        out.append(s)
    return out


def ensure_inputs(results: Path) -> None:
    needed = ["results/embeddings/backbone.pt", "results/embeddings/embeddings.csv",
              "results/data/metadata", "results/data/split.csv"]
    if not all((REPO / n).exists() for n in needed):
        snakemake = str(Path(sys.executable).with_name("snakemake"))
        subprocess.run([snakemake, "--cores", "all", *needed], cwd=REPO, check=True)


def scores(probs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    pred = probs.argmax(axis=1)
    bacc = balanced_accuracy_score(y, pred)
    auroc = roc_auc_score(y == 0, probs[:, 0]) if len(set(y)) > 1 else 0.5
    return float(bacc), float(auroc)


class FastModel:
    """Logistic regression on frozen, L2-normalised backbone features."""

    def __init__(self, feats: dict[str, np.ndarray]) -> None:
        self.feats = feats

    def fit_predict(self, labels: dict[str, int], pool: list[str], val: list[str]) -> tuple[np.ndarray, np.ndarray]:
        names = sorted(labels)
        y = np.array([labels[n] for n in names])
        X = np.stack([self.feats[n] for n in names])
        if len(set(y)) < 2:
            const = np.zeros((1, 2))
            const[0, y[0]] = 1.0
            return np.repeat(const, len(pool), 0), np.repeat(const, len(val), 0)
        clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000).fit(X, y)
        proba = lambda ns: clf.predict_proba(np.stack([self.feats[n] for n in ns]))  # noqa: E731
        return proba(pool), proba(val)


class FullModel:
    """The pipeline's CNN classifier (linear probe, then fine-tuning)."""

    def __init__(self, image_dir: Path, backbone: Path, input_size: int) -> None:
        self.image_dir, self.backbone, self.input_size = image_dir, backbone, input_size

    def fit_predict(self, labels: dict[str, int], pool: list[str], val: list[str]) -> tuple[np.ndarray, np.ndarray]:
        tmp = REPO / "benchmarks" / "out" / "tmp.ckpt"
        model = train(self.image_dir, {n: CATS[v] for n, v in labels.items()}, self.backbone, CATS,
                      self.input_size, TrainSpec(), tmp, threads=torch.get_num_threads())
        return predict_proba(model, self.image_dir, pool), predict_proba(model, self.image_dir, val)


def config_embed_spec() -> EmbedSpec:
    """The default config's embedding settings, so extra backbones are trained like the pipeline's."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return EmbedSpec(**cfg["embed"])


def backbones(args: argparse.Namespace, train_names: list[str]) -> list[Path]:
    """Folders with embeddings.csv and backbone.pt: the pipeline's, then extra SimCLR seeds.

    One backbone is one draw of the self-supervised training; strategies that win on one draw can
    lose on another, so seeds cycle through several. They are trained once and cached in
    benchmarks/out/ under a key of the settings and the pool, so a changed config retrains them.
    """
    dirs = [REPO / "results" / "embeddings"]
    base = config_embed_spec()
    for k in range(1, args.ssl_seeds):
        spec = dataclasses.replace(base, seed=k)
        key = hashlib.sha256(json.dumps([dataclasses.asdict(spec), sorted(train_names)]).encode()).hexdigest()[:10]
        d = REPO / "benchmarks" / "out" / f"ssl_seed{k}-{key}"
        if not (d / "backbone.pt").exists():
            print(f"training SimCLR backbone {k} (seed {k}) into {d.name} ...", flush=True)
            train_embeddings(REPO / "results" / "data" / "images", train_names, spec, d / "embeddings.csv",
                             d / "backbone.pt", threads=torch.get_num_threads())
        dirs.append(d)
    return dirs


def run(args: argparse.Namespace) -> pd.DataFrame:
    results = REPO / "results"
    ensure_inputs(results)
    truth = read_truth(REPO / "resources" / "synthetic" / "truth.csv")
    val = split_filenames(results / "data" / "split.csv", "val")
    metadata = metadata_table(results / "data" / "metadata")
    y_val = np.array([CATS.index(truth[n]) for n in val])
    train_names = split_filenames(results / "data" / "split.csv", "train")
    setups = []
    decoded: dict[tuple, list] = {}  # backbones made alike share one decoding of the images
    for d in backbones(args, train_names):
        pool_names, embeddings = read_embeddings(d / "embeddings.csv")
        if args.mode == "fast":
            net, made = load_backbone(d / "backbone.pt")
            names = pool_names + val
            recipe = (tuple(names), made["input_size"], made["foci_channel"])
            if recipe not in decoded:
                decoded[recipe] = load_images(results / "data" / "images", *recipe)
            raw = features(net, decoded[recipe])
            raw = raw / np.linalg.norm(raw, axis=1, keepdims=True) * FEATURE_SCALE
            model = FastModel(dict(zip(names, raw)))
        else:
            model = FullModel(results / "data" / "images", d / "backbone.pt",
                              read_backbone(d / "backbone.pt")["input_size"])
        setups.append((pool_names, embeddings, model))
    rows = []
    for seed in range(args.seeds):
        pool_names, embeddings, model = setups[seed % len(setups)]
        # each seed sees a different 90 % of the pool, so deterministic strategies vary too
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(pool_names), int(0.9 * len(pool_names)), replace=False))
        names = [pool_names[i] for i in keep]
        emb = embeddings[keep]
        for strategy, (first, later) in STRATEGIES.items():
            labeled: list[str] = []
            probs = None
            for r in range(1, args.rounds + 1):
                cfg = {"n_samples": args.batch, "strategies": seeded(first if r == 1 else later, seed * 100 + r)}
                pool = Pool(names, emb, metadata, probs, categories=CATS)
                labeled += select(cfg, pool, labeled, where=f"{strategy} round {r}")
                labels = {n: CATS.index(truth[n]) for n in labeled}
                probs, p_val = model.fit_predict(labels, names, val)
                bacc, auroc = scores(p_val, y_val)
                rows.append({"seed": seed, "backbone": seed % len(setups), "strategy": strategy, "round": r,
                             "n_labels": len(labeled), "balanced_accuracy": bacc, "auroc": auroc,
                             "track_share": float(np.mean([truth[n] == "track" for n in labeled]))})
        print(f"seed {seed} done", flush=True)
    return pd.DataFrame(rows)


def report(df: pd.DataFrame, out: Path) -> str:
    lines = []
    table = df.groupby(["strategy", "n_labels"]).agg(
        bacc_mean=("balanced_accuracy", "mean"), bacc_std=("balanced_accuracy", "std"),
        auroc_mean=("auroc", "mean"), auroc_std=("auroc", "std"))
    budgets = sorted(df["n_labels"].unique())
    lines.append("Balanced accuracy (mean ± std over seeds) by number of labels")
    lines.append("| strategy | " + " | ".join(str(b) for b in budgets) + " | AUBC |")
    lines.append("|---" * (len(budgets) + 2) + "|")
    aubc = df.groupby(["strategy", "seed"])["balanced_accuracy"].mean().unstack("strategy")
    for s in STRATEGIES:
        cells = [f"{table.loc[(s, b), 'bacc_mean']:.3f} ± {table.loc[(s, b), 'bacc_std']:.3f}" for b in budgets]
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {aubc[s].mean():.3f} ± {aubc[s].std():.3f} |")
    lines.append("")
    lines.append("AUROC (mean ± std over seeds) by number of labels")
    lines.append("| strategy | " + " | ".join(str(b) for b in budgets) + " |")
    lines.append("|---" * (len(budgets) + 1) + "|")
    for s in STRATEGIES:
        cells = [f"{table.loc[(s, b), 'auroc_mean']:.3f} ± {table.loc[(s, b), 'auroc_std']:.3f}" for b in budgets]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Paired difference of AUBC from random, in points of balanced accuracy (mean ± std over seeds)")
    for s in STRATEGIES:
        if s == "random":
            continue
        d = 100 * (aubc[s] - aubc["random"])
        lines.append(f"- {s}: {d.mean():+.1f} ± {d.std():.1f} (seeds better than random: {(d > 0).sum()}/{len(d)})")
    text = "\n".join(lines)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for s in STRATEGIES:
        m = df[df["strategy"] == s].groupby("n_labels")
        for ax, key in zip(axes, ("balanced_accuracy", "auroc")):
            mean, std = m[key].mean(), m[key].std()
            ax.plot(mean.index, mean.values, marker="o", label=s)
            ax.fill_between(mean.index, mean - std, mean + std, alpha=0.15)
    for ax, title in zip(axes, ("balanced accuracy", "AUROC")):
        ax.set_xlabel("labels")
        ax.set_title(f"validation {title}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "label_efficiency.png", dpi=110)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    # 20 a round keeps the budget in the steep part of the curve, where selection matters
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--mode", choices=["fast", "full"], default="fast")
    parser.add_argument("--ssl-seeds", type=int, default=5,
                        help="self-supervised backbones to cycle through (1 = the pipeline's only)")
    args = parser.parse_args()
    out = REPO / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    df = run(args)
    df.to_csv(out / f"label_efficiency_{args.mode}.csv", index=False)
    text = report(df, out)
    (out / f"label_efficiency_{args.mode}.md").write_text(text + "\n")
    print(text)
    print(f"\nplot: {out / 'label_efficiency.png'}")


if __name__ == "__main__":
    main()
