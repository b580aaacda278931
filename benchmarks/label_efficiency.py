"""Label efficiency of selection strategies against random, over several seeds.

Simulates the active-learning loop with the oracle: each round a strategy picks `--batch` images
of the pool (through the pipeline's own `select`), the oracle labels them, a classifier is trained
on all labels so far and scored on the validation images. Fast mode (default) trains a
class-balanced logistic regression on frozen self-supervised features; full mode fine-tunes the
pipeline's CNN classifier (LP-FT) and is much slower.

Two pools: `subset` (default) is the default config's pool, the old tutorial's subset (high dose,
4 h: 564 images, a third with tracks); `all` is every image of the synthetic set (all doses and
times: 4,800 images, 16 % with tracks, as in the whole real set), built through the workflow in
its own folder benchmarks/out/pool-all/ with the default config minus the filter. Inputs are
built with snakemake if missing. Prints, per strategy and round, the mean and standard deviation
over seeds of balanced accuracy and AUROC, the area under the budget curve (AUBC: mean balanced
accuracy over rounds), and the paired difference of each strategy's AUBC from random's with its
95 % confidence interval; writes the table, the raw rows and a plot to benchmarks/out/.

    .venv/bin/python benchmarks/label_efficiency.py [--seeds 5] [--rounds 5] [--batch 20] [--mode fast]
        [--pool subset|all] [--ssl-seeds 5] [--only REGEX]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from scipy import stats
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from bps_labeler.annotations import read_truth
from bps_labeler.classifier import TrainSpec, head_features, linear_probe, predict_proba, train
from bps_labeler.embed import EmbedSpec, features, load_backbone, read_embeddings, train_embeddings
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
#: Lightly's advice for a rare class: balance the picks by the model's predicted class.
PREDICTED_BALANCE = {"input": {"type": "PREDICTIONS", "task": "bps-classification", "name": "CLASS_DISTRIBUTION"},
                     "strategy": {"type": "BALANCE", "target": {"track": 0.5, "no track": 0.5}}}
BALANCE = {"input": {"type": "METADATA", "key": "particle_type"},
           "strategy": {"type": "BALANCE", "target": {"Fe": 0.5, "X-ray": 0.5}}}
#: Leave out what the quality metadata flags: nuclei cut by the border (or empty fields, which
#: score high there too) and saturated blobs. These are what pure diversity picks first.
CLEAN = [{"input": {"type": "METADATA", "key": "border_fraction"},
          "strategy": {"type": "THRESHOLD", "threshold": 0.05, "operation": "SMALLER"}},
         {"input": {"type": "METADATA", "key": "saturated_fraction"},
          "strategy": {"type": "THRESHOLD", "threshold": 0.01, "operation": "SMALLER"}}]
#: Only empty fields (low signal-to-noise) and saturated blobs: is the border filter needed?
EMPTY_BLOB = [{"input": {"type": "METADATA", "key": "snr"},
               "strategy": {"type": "THRESHOLD", "threshold": 4.0, "operation": "BIGGER"}},
              CLEAN[1]]

DEFAULT = "default config (config/config.yaml)"
#: name -> (round-1 strategies, later-round strategies); RANDOM strategies get the seed filled in.
#: "clean" leaves out what the quality metadata flags (CLEAN). `strategies()` adds the default
#: config's own, so the table always shows what `snakemake` would do.
STRATEGIES: dict[str, tuple[list, list]] = {
    "random": ([{"input": {"type": "RANDOM"}, "strategy": {"type": "WEIGHTS"}}],
               [{"input": {"type": "RANDOM"}, "strategy": {"type": "WEIGHTS"}}]),
    "tutorial": ([DIVERSITY, BALANCE], [ENTROPY]),
    "tutorial+diverse-uncertainty": ([DIVERSITY, BALANCE], [ENTROPY, DIVERSITY]),
    "typical-diverse, then entropy": ([TYPICALITY, DIVERSITY], [ENTROPY]),
    "typical-diverse, then diverse-uncertainty": ([TYPICALITY, DIVERSITY], [ENTROPY, DIVERSITY]),
    "typical-diverse, then typical-diverse-uncertainty": ([TYPICALITY, DIVERSITY], [ENTROPY, TYPICALITY, DIVERSITY]),
    "typical-diverse throughout (no model)": ([TYPICALITY, DIVERSITY], [TYPICALITY, DIVERSITY]),
    "typical-diverse-balanced, then entropy": ([TYPICALITY, DIVERSITY, BALANCE], [ENTROPY]),
    "diverse, then diverse-uncertainty": ([DIVERSITY], [ENTROPY, DIVERSITY]),
    "clean diverse, then clean diverse-uncertainty": ([*CLEAN, DIVERSITY], [*CLEAN, ENTROPY, DIVERSITY]),
    "no empty or blob, diverse, then diverse-uncertainty": ([*EMPTY_BLOB, DIVERSITY],
                                                            [*EMPTY_BLOB, ENTROPY, DIVERSITY]),
    "clean typical-diverse, then clean diverse-uncertainty": ([*CLEAN, TYPICALITY, DIVERSITY],
                                                              [*CLEAN, ENTROPY, DIVERSITY]),
    "clean diverse, then clean typical-diverse-uncertainty": ([*CLEAN, DIVERSITY],
                                                              [*CLEAN, ENTROPY, TYPICALITY, DIVERSITY]),
    "clean diverse, then clean diverse-uncertainty, predicted-balanced": (
        [*CLEAN, DIVERSITY], [*CLEAN, ENTROPY, DIVERSITY, PREDICTED_BALANCE]),
}


def strategies(args: argparse.Namespace, selection: list[dict]) -> dict[str, tuple[list, list]]:
    """The strategies to run: all, or those whose name matches `--only` (random always), and the
    default config's `selection`."""
    default = (selection[0]["strategies"], selection[min(1, len(selection) - 1)]["strategies"])
    # a named strategy that is the default config's runs once, under the default's name
    every = {**{k: v for k, v in STRATEGIES.items() if v != default}, DEFAULT: default}
    return {k: v for k, v in every.items() if k in ("random", DEFAULT) or not args.only or re.search(args.only, k)}


def seeded(strategies: list, seed: int) -> list:
    out = []
    for s in strategies:
        s = {"input": dict(s["input"]), "strategy": dict(s["strategy"])}
        if s["input"]["type"] == "RANDOM":
            s["input"]["random_seed"] = seed
        out.append(s)
    return out


def default_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def pool_root(args: argparse.Namespace, cfg: dict) -> Path:
    """Workflow folder whose results/ hold the pool's images, split, metadata and backbone.

    The `all` pool is the default config without its filter, reading the synthetic TIFFs that the
    default run generated (no copy); SimCLR gets `--all-epochs` so that its number of steps is
    about the default's, not 8x more.
    """
    needed = ["results/embeddings/backbone.pt", "results/embeddings/embeddings.csv",
              "results/data/metadata", "results/data/split.csv"]
    snakemake = [str(Path(sys.executable).with_name("snakemake")), "--cores", "all",
                 "--snakefile", str(REPO / "workflow" / "Snakefile")]
    if args.pool == "subset":
        subprocess.run([*snakemake, *needed], cwd=REPO, check=True)
        return REPO
    # the synthetic TIFFs and truth of the default config, generated once in the repository
    subprocess.run([*snakemake, "resources/raw/meta.csv"], cwd=REPO, check=True)
    root = REPO / "benchmarks" / "out" / "pool-all"
    cfg = copy.deepcopy(cfg)
    cfg["filter"] = {}
    # the simulated oracle labels a benchmark's yardstick for free: keep 20 % of every condition
    # (1,200 images) for precise figures rather than the 200 a person would label
    cfg["split"] = {"val_fraction": 0.2}
    cfg["source"] = {"kind": "local", "local": {"path": str(REPO / "resources" / "raw")}}
    cfg["annotation"]["oracle"]["truth"] = str(REPO / cfg["annotation"]["oracle"]["truth"])
    cfg["embed"]["epochs"] = args.all_epochs
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    subprocess.run([*snakemake, "--directory", str(root), *needed], cwd=root, check=True)
    return root


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
        clf = linear_probe(X, y)
        proba = lambda ns: clf.predict_proba(np.stack([self.feats[n] for n in ns]))  # noqa: E731
        return proba(pool), proba(val)


class FullModel:
    """The pipeline's CNN classifier (linear probe, then fine-tuning)."""

    def __init__(self, image_dir: Path, backbone: Path) -> None:
        self.image_dir, self.backbone = image_dir, backbone

    def fit_predict(self, labels: dict[str, int], pool: list[str], val: list[str]) -> tuple[np.ndarray, np.ndarray]:
        tmp = REPO / "benchmarks" / "out" / "tmp.ckpt"
        model = train(self.image_dir, {n: CATS[v] for n, v in labels.items()}, self.backbone, CATS,
                      TrainSpec(), tmp, threads=torch.get_num_threads())
        return predict_proba(model, self.image_dir, pool), predict_proba(model, self.image_dir, val)


def backbones(args: argparse.Namespace, root: Path, train_names: list[str]) -> list[Path]:
    """Folders with embeddings.csv and backbone.pt: the pipeline's, then extra SimCLR seeds.

    One backbone is one draw of the self-supervised training; strategies that win on one draw can
    lose on another, so seeds cycle through several. They are trained once and cached in
    benchmarks/out/ under a key of the settings and the pool, so a changed config retrains them.
    """
    dirs = [root / "results" / "embeddings"]
    # the pool's own config, so extra backbones are trained like the pipeline's
    base = EmbedSpec(**yaml.safe_load((root / "config" / "config.yaml").read_text())["embed"])
    for k in range(1, args.ssl_seeds):
        spec = dataclasses.replace(base, seed=k)
        key = hashlib.sha256(json.dumps([dataclasses.asdict(spec), sorted(train_names)]).encode()).hexdigest()[:10]
        d = REPO / "benchmarks" / "out" / f"ssl_seed{k}-{key}"
        if not (d / "backbone.pt").exists():
            print(f"training SimCLR backbone {k} (seed {k}) into {d.name} ...", flush=True)
            train_embeddings(root / "results" / "data" / "images", train_names, spec, d / "embeddings.csv",
                             d / "backbone.pt", threads=torch.get_num_threads())
        dirs.append(d)
    return dirs


def run(args: argparse.Namespace) -> pd.DataFrame:
    cfg = default_config()
    root = pool_root(args, cfg)
    results = root / "results"
    truth = read_truth(REPO / cfg["annotation"]["oracle"]["truth"])
    to_run = strategies(args, cfg["selection"])
    val = split_filenames(results / "data" / "split.csv", "val")
    metadata = metadata_table(results / "data" / "metadata")
    y_val = np.array([CATS.index(truth[n]) for n in val])
    train_names = split_filenames(results / "data" / "split.csv", "train")
    setups = []
    decoded: dict[tuple, list] = {}  # backbones made alike share one decoding of the images
    for d in backbones(args, root, train_names):
        pool_names, embeddings = read_embeddings(d / "embeddings.csv")
        if args.mode == "fast":
            net, made = load_backbone(d / "backbone.pt")
            names = pool_names + val
            recipe = (tuple(names), made["input_size"], made["foci_channel"])
            if recipe not in decoded:
                decoded[recipe] = load_images(results / "data" / "images", *recipe)
            model = FastModel(dict(zip(names, head_features(features(net, decoded[recipe])))))
        else:
            model = FullModel(results / "data" / "images", d / "backbone.pt")
        setups.append((pool_names, embeddings, model))
    rows = []
    for seed in range(args.seeds):
        pool_names, embeddings, model = setups[seed % len(setups)]
        # each seed sees a different 90 % of the pool, so deterministic strategies vary too
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(pool_names), int(0.9 * len(pool_names)), replace=False))
        names = [pool_names[i] for i in keep]
        emb = embeddings[keep]
        for strategy, (first, later) in to_run.items():
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


def report(df: pd.DataFrame, plot: Path) -> str:
    lines = []
    ran = list(dict.fromkeys(df["strategy"]))
    table = df.groupby(["strategy", "n_labels"]).agg(
        bacc_mean=("balanced_accuracy", "mean"), bacc_std=("balanced_accuracy", "std"),
        auroc_mean=("auroc", "mean"), auroc_std=("auroc", "std"))
    budgets = sorted(df["n_labels"].unique())
    lines.append("Balanced accuracy (mean ± std over seeds) by number of labels")
    lines.append("| strategy | " + " | ".join(str(b) for b in budgets) + " | AUBC |")
    lines.append("|---" * (len(budgets) + 2) + "|")
    aubc = df.groupby(["strategy", "seed"])["balanced_accuracy"].mean().unstack("strategy")
    for s in ran:
        cells = [f"{table.loc[(s, b), 'bacc_mean']:.3f} ± {table.loc[(s, b), 'bacc_std']:.3f}" for b in budgets]
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {aubc[s].mean():.3f} ± {aubc[s].std():.3f} |")
    lines.append("")
    lines.append("AUROC (mean ± std over seeds) by number of labels")
    lines.append("| strategy | " + " | ".join(str(b) for b in budgets) + " |")
    lines.append("|---" * (len(budgets) + 1) + "|")
    for s in ran:
        cells = [f"{table.loc[(s, b), 'auroc_mean']:.3f} ± {table.loc[(s, b), 'auroc_std']:.3f}" for b in budgets]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Paired difference of AUBC from random, in points of balanced accuracy: mean ± std over "
                 "seeds, and the 95 % confidence interval of the mean (t distribution)")
    for s in ran:
        if s == "random":
            continue
        d = 100 * (aubc[s] - aubc["random"])
        better = f"seeds better than random: {(d > 0).sum()}/{len(d)}"
        if len(d) < 2:
            lines.append(f"- {s}: {d.mean():+.1f} (one seed: no spread; {better})")
            continue
        half = stats.t.ppf(0.975, len(d) - 1) * d.std() / np.sqrt(len(d))
        lines.append(f"- {s}: {d.mean():+.1f} ± {d.std():.1f}, 95 % CI {d.mean() - half:+.1f} to "
                     f"{d.mean() + half:+.1f} ({better})")
    text = "\n".join(lines)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # a readable plot: random, the tutorial, the default and the two best others (the table has all)
    others = aubc.mean().drop([s for s in ("random", "tutorial", DEFAULT) if s in aubc], errors="ignore")
    shown = [s for s in ("random", "tutorial", DEFAULT) if s in ran] + list(others.nlargest(2).index)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for s in shown:
        m = df[df["strategy"] == s].groupby("n_labels")
        for ax, key in zip(axes, ("balanced_accuracy", "auroc")):
            mean, std = m[key].mean(), m[key].std()
            ax.plot(mean.index, mean.values, marker="o", label=s)
            ax.fill_between(mean.index, mean - std, mean + std, alpha=0.12)
    for ax, title in zip(axes, ("balanced accuracy", "AUROC")):
        ax.set_xlabel("labels")
        ax.set_title(f"validation {title}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(plot, dpi=110)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    # 20 a round keeps the budget in the steep part of the curve, where selection matters
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--mode", choices=["fast", "full"], default="fast")
    parser.add_argument("--only", help="run only the strategies whose name matches this regex (and random)")
    parser.add_argument("--pool", choices=["subset", "all"], default="subset",
                        help="the default config's pool, or every synthetic image (see above)")
    parser.add_argument("--all-epochs", type=int, default=2,
                        help="SimCLR epochs for the `all` pool (about the default's steps on 8x the images)")
    parser.add_argument("--ssl-seeds", type=int, default=5,
                        help="self-supervised backbones to cycle through (1 = the pipeline's only)")
    args = parser.parse_args()
    out = REPO / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    df = run(args)
    stem = f"label_efficiency_{args.mode}" + ("" if args.pool == "subset" else f"_{args.pool}")
    stem += f"_batch{args.batch}" if args.batch != 20 else ""
    stem += "_only" if args.only else ""  # a partial run does not replace the full table
    df.to_csv(out / f"{stem}.csv", index=False)
    text = report(df, out / f"{stem}.png")
    (out / f"{stem}.md").write_text(text + "\n")
    print(text)
    print(f"\nplot: {out / (stem + '.png')}")


if __name__ == "__main__":
    main()
