"""Label efficiency of selection strategies against random and the zero-label baselines.

Simulates the active-learning loop with the oracle: each round a strategy picks `--batch` images
of the pool (through the pipeline's own `select`, which leaves out the images whose condition
decides the label, `known_answers`), the oracle labels them, a classifier is trained on all labels
so far and scored on the validation images whose condition does not decide the label (the
undecided ones, the headline), and over all images as the pipeline answers them (the rule where
the condition decides, the model elsewhere). The metadata rule and the majority class are rows
of the same table. Fast mode (default) trains the pipeline's class-balanced logistic regression
on frozen self-supervised features; full mode fine-tunes the pipeline's CNN classifier (LP-FT)
and is much slower.

Held-out protocol: the defaults were chosen with seeds 0-4 (and backbones shared between them);
the figures docs/selection.md reports come from seeds from `--first-seed` on (100), never used for
choosing, each with its own SimCLR backbone, so seeds are independent and the confidence
intervals are plain t intervals over seeds. `--ssl-seeds N` cycles N backbones instead (cheaper),
and the intervals are then taken over backbones (each backbone's mean difference is one
observation), since seeds sharing a backbone are not independent.

Pools: `subset` (default) is the config's own pool; `all` is every image of the synthetic set
(all doses and times: tracks only in irradiated Fe, as in the whole real set), built in
benchmarks/out/pool-all/ with the config minus its filter. `--configfile` takes any config whose
oracle has a truth file (a `local` source with its own labels, a varied synthetic generator); its
pool is built in benchmarks/out/pool-<name>/. Prints per strategy and round the mean and standard
deviation over seeds of balanced accuracy and AUROC on the undecided images, the area under the
budget curve (AUBC: mean balanced accuracy over rounds) and the paired difference of each
strategy's AUBC from random's with its 95 % confidence interval; writes the table and the raw
rows to docs/results/ (committed: the figures in docs/ come from them) and a plot to
benchmarks/out/.

    .venv/bin/python benchmarks/label_efficiency.py [--seeds 5] [--rounds 5] [--batch 20] [--mode fast]
        [--pool subset|all] [--configfile FILE] [--first-seed 100] [--ssl-seeds 0] [--only REGEX]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pools
import torch
import yaml
from generator_spread import VARIANTS, slug, with_generator
from scipy import stats
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from bps_labeler.data.images import load_images
from bps_labeler.data.lightly_metadata import metadata_table
from bps_labeler.data.split import split_filenames
from bps_labeler.embeddings.backbone import features, load_backbone
from bps_labeler.embeddings.io import read_embeddings
from bps_labeler.embeddings.simclr import EmbedSpec, train_embeddings
from bps_labeler.evaluation.baselines import majority_class
from bps_labeler.labeling.annotations import read_truth
from bps_labeler.labeling.known_answers import read_known, rule_probabilities
from bps_labeler.models.classifier import TrainSpec, head_features, linear_probe, train
from bps_labeler.models.conditions import by_image
from bps_labeler.models.foci import image_features
from bps_labeler.models.network import predict_proba
from bps_labeler.selection.engine import select
from bps_labeler.selection.pool import Pool

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
CATS = ("track", "no track")
ENTROPY = {
    "input": {"type": "SCORES", "task": "bps-classification", "score": "uncertainty_entropy"},
    "strategy": {"type": "WEIGHTS"},
}
DIVERSITY = {"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY"}}
TYPICALITY = {"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "TYPICALITY", "num_nearest_neighbors": 20}}
#: Lightly's advice for a rare class: balance the picks by the model's predicted class.
PREDICTED_BALANCE = {
    "input": {"type": "PREDICTIONS", "task": "bps-classification", "name": "CLASS_DISTRIBUTION"},
    "strategy": {"type": "BALANCE", "target": {"track": 0.5, "no track": 0.5}},
}
BALANCE = {
    "input": {"type": "METADATA", "key": "particle_type"},
    "strategy": {"type": "BALANCE", "target": {"Fe": 0.5, "X-ray": 0.5}},
}
#: Leave out what the quality metadata flags, as config/config.yaml does: nuclei the crop cut off,
#: saturated blobs and empty fields. These are what pure diversity picks first.
CLEAN = [
    {
        "input": {"type": "METADATA", "key": "border_fraction"},
        "strategy": {"type": "THRESHOLD", "threshold": 0.05, "operation": "SMALLER"},
    },
    {
        "input": {"type": "METADATA", "key": "saturated_fraction"},
        "strategy": {"type": "THRESHOLD", "threshold": 0.01, "operation": "SMALLER"},
    },
    {
        "input": {"type": "METADATA", "key": "snr"},
        "strategy": {"type": "THRESHOLD", "threshold": 3.0, "operation": "BIGGER"},
    },
]
#: Only empty fields (low signal-to-noise) and saturated blobs: is the border filter needed?
EMPTY_BLOB = [
    {
        "input": {"type": "METADATA", "key": "snr"},
        "strategy": {"type": "THRESHOLD", "threshold": 4.0, "operation": "BIGGER"},
    },
    CLEAN[1],
]

DEFAULT = "default config (config/config.yaml)"
RULE = "metadata rule (no labels)"
MAJORITY = "majority class (of the default's labels)"
#: name -> (round-1 strategies, later-round strategies); RANDOM strategies get the seed filled in.
#: "clean" leaves out what the quality metadata flags (CLEAN). `strategies()` adds the default
#: config's own, so the table always shows what `snakemake` would do.
STRATEGIES: dict[str, tuple[list, list]] = {
    "random": (
        [{"input": {"type": "RANDOM"}, "strategy": {"type": "WEIGHTS"}}],
        [{"input": {"type": "RANDOM"}, "strategy": {"type": "WEIGHTS"}}],
    ),
    "tutorial": ([DIVERSITY, BALANCE], [ENTROPY]),
    "tutorial+diverse-uncertainty": ([DIVERSITY, BALANCE], [ENTROPY, DIVERSITY]),
    "typical-diverse, then entropy": ([TYPICALITY, DIVERSITY], [ENTROPY]),
    "typical-diverse, then diverse-uncertainty": ([TYPICALITY, DIVERSITY], [ENTROPY, DIVERSITY]),
    "typical-diverse, then typical-diverse-uncertainty": ([TYPICALITY, DIVERSITY], [ENTROPY, TYPICALITY, DIVERSITY]),
    "typical-diverse throughout (no model)": ([TYPICALITY, DIVERSITY], [TYPICALITY, DIVERSITY]),
    "typical-diverse-balanced, then entropy": ([TYPICALITY, DIVERSITY, BALANCE], [ENTROPY]),
    "diverse, then diverse-uncertainty": ([DIVERSITY], [ENTROPY, DIVERSITY]),
    "clean diverse, then clean diverse-uncertainty": ([*CLEAN, DIVERSITY], [*CLEAN, ENTROPY, DIVERSITY]),
    "no empty or blob, diverse, then diverse-uncertainty": (
        [*EMPTY_BLOB, DIVERSITY],
        [*EMPTY_BLOB, ENTROPY, DIVERSITY],
    ),
    "clean typical-diverse, then clean diverse-uncertainty": (
        [*CLEAN, TYPICALITY, DIVERSITY],
        [*CLEAN, ENTROPY, DIVERSITY],
    ),
    "clean diverse, then clean typical-diverse-uncertainty": (
        [*CLEAN, DIVERSITY],
        [*CLEAN, ENTROPY, TYPICALITY, DIVERSITY],
    ),
    "clean diverse, then clean diverse-uncertainty, predicted-balanced": (
        [*CLEAN, DIVERSITY],
        [*CLEAN, ENTROPY, DIVERSITY, PREDICTED_BALANCE],
    ),
}


def strategies(args: argparse.Namespace, selection: list[dict]) -> dict[str, tuple[list, list]]:
    """The strategies to run: all, or those whose name matches `--only` (random always), and the
    default config's `selection`."""
    default = (selection[0]["strategies"], selection[min(1, len(selection) - 1)]["strategies"])
    # a named strategy that is the default config's runs once, under the default's name
    every = {**{k: v for k, v in STRATEGIES.items() if v != default}, DEFAULT: default}
    if args.headline:
        return {k: v for k, v in every.items() if k in ("random", DEFAULT)}
    return {k: v for k, v in every.items() if k in ("random", DEFAULT) or not args.only or re.search(args.only, k)}


def seeded(strategies: list, seed: int) -> list:
    out = []
    for s in strategies:
        s = {"input": dict(s["input"]), "strategy": dict(s["strategy"])}
        if s["input"]["type"] == "RANDOM":
            s["input"]["random_seed"] = seed
        out.append(s)
    return out


def read_config(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def pool_root(args: argparse.Namespace, cfg: dict) -> Path:
    """Workflow folder whose results/ hold the pool's images, split, metadata and backbone.

    The `all` pool is the default config without its filter, reading the synthetic TIFFs that the
    default run generated (no copy); SimCLR gets `--all-epochs` so that its number of steps is
    about the default's, not 8x more.
    """
    needed = [
        "results/embeddings/backbone.pt",
        "results/embeddings/embeddings.csv",
        "results/data/metadata",
        "results/data/split.csv",
        "results/data/filtered_meta.csv",
    ]
    if args.generator is not None:
        cfg = with_generator(cfg, VARIANTS[args.generator])
    if args.pool == "subset":
        if args.generator is None:
            return pools.build(args.configfile, needed)
        return pools.build(args.configfile, needed, root=OUT / f"pool-{slug(args.generator)}", cfg=cfg)
    if cfg["source"]["kind"] != "synthetic" or not pools.is_default(args.configfile):
        raise SystemExit("--pool all is the default config's synthetic set without its filter")
    cfg = copy.deepcopy(cfg)
    cfg["filter"] = {}
    # the simulated oracle labels a benchmark's yardstick for free: keep 20 % of every condition
    # (1,200 images) for precise figures rather than the 200 a person would label
    cfg["split"] = {"val_fraction": 0.2}
    # the default config's synthetic set (same seed and generator: the same images), unfiltered
    cfg["embed"]["epochs"] = args.all_epochs
    name = "pool-all" + ("" if args.generator is None else f"-{slug(args.generator)}")
    return pools.build(args.configfile, needed, root=OUT / name, cfg=cfg)


def scores(probs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    pred = probs.argmax(axis=1)
    bacc = balanced_accuracy_score(y, pred)
    auroc = roc_auc_score(y == 0, probs[:, 0]) if len(set(y)) > 1 else 0.5
    return float(bacc), float(auroc)


class FastModel:
    """The pipeline's head as a logistic regression on frozen features: the L2-normalised
    backbone features and, as with `train.line_features`, the classical foci-and-line features
    standardised on the labeled images."""

    def __init__(self, feats: dict[str, np.ndarray], extra: dict[str, np.ndarray] | None, c: float) -> None:
        self.feats, self.extra, self.c = feats, extra, c

    def _x(self, names: list[str], mean: np.ndarray | None = None, std: np.ndarray | None = None) -> np.ndarray:
        x = np.stack([self.feats[n] for n in names])
        if self.extra is None:
            return x
        return np.hstack([x, (np.stack([self.extra[n] for n in names]) - mean) / std])

    def fit_predict(self, labels: dict[str, int], pool: list[str], val: list[str]) -> tuple[np.ndarray, np.ndarray]:
        names = sorted(labels)
        y = np.array([labels[n] for n in names])
        if len(set(y)) < 2:
            const = np.zeros((1, 2))
            const[0, y[0]] = 1.0
            return np.repeat(const, len(pool), 0), np.repeat(const, len(val), 0)
        mean = std = None
        if self.extra is not None:
            e = np.stack([self.extra[n] for n in names])
            mean, std = e.mean(axis=0), e.std(axis=0) + 1e-6
        clf = linear_probe(self._x(names, mean, std), y, self.c)
        return clf.predict_proba(self._x(pool, mean, std)), clf.predict_proba(self._x(val, mean, std))


class FullModel:
    """The pipeline's CNN classifier (linear probe, then fine-tuning), with the config's settings;
    `conditions` (meta.csv by image) for train.condition_features."""

    def __init__(self, image_dir: Path, backbone: Path, spec: TrainSpec, conditions: pd.DataFrame) -> None:
        self.image_dir, self.backbone, self.spec, self.conditions = image_dir, backbone, spec, conditions

    def fit_predict(self, labels: dict[str, int], pool: list[str], val: list[str]) -> tuple[np.ndarray, np.ndarray]:
        tmp = REPO / "benchmarks" / "out" / "tmp.ckpt"
        model = train(
            self.image_dir,
            {n: CATS[v] for n, v in labels.items()},
            self.backbone,
            CATS,
            self.spec,
            tmp,
            threads=torch.get_num_threads(),
            conditions=self.conditions,
        )
        return (
            predict_proba(model, self.image_dir, pool, conditions=self.conditions),
            predict_proba(model, self.image_dir, val, conditions=self.conditions),
        )


def backbone_seeds(args: argparse.Namespace, pipeline_seed: int) -> list[int]:
    """The SimCLR seed of each benchmark seed: its own (the default), one of `--ssl-seeds`, or the
    pipeline's own backbone for all (`--pipeline-backbone`: no SimCLR beyond the pool's build)."""
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    if args.pipeline_backbone:
        return [pipeline_seed for _ in seeds]
    if args.ssl_seeds:
        return [args.first_seed + (s - args.first_seed) % args.ssl_seeds for s in seeds]
    return list(seeds)


def backbone(root: Path, train_names: list[str], ssl_seed: int) -> Path:
    """Folder with embeddings.csv and backbone.pt of one SimCLR draw on the pool.

    One backbone is one draw of the self-supervised training; strategies that win on one draw can
    lose on another. The pipeline's own is used where the seed is its seed; the others are
    trained like it, once, and cached in benchmarks/out/ under a key of the settings and the pool,
    so a changed config retrains them.
    """
    cfg = yaml.safe_load((root / "config" / "config.yaml").read_text())
    base = EmbedSpec(**cfg["embed"], seed=cfg["seed"])
    if ssl_seed == base.seed:
        return root / "results" / "embeddings"
    spec = dataclasses.replace(base, seed=ssl_seed)
    key = hashlib.sha256(json.dumps([dataclasses.asdict(spec), sorted(train_names)]).encode()).hexdigest()[:10]
    d = REPO / "benchmarks" / "out" / f"ssl_seed{ssl_seed}-{key}"
    if not (d / "backbone.pt").exists():
        print(f"training SimCLR backbone (seed {ssl_seed}) into {d.name} ...", flush=True)
        train_embeddings(
            root / "results" / "data" / "images",
            train_names,
            spec,
            d / "embeddings.csv",
            d / "backbone.pt",
            threads=torch.get_num_threads(),
        )
    return d


def run(args: argparse.Namespace) -> pd.DataFrame:
    cfg = read_config(args.configfile)
    root = pool_root(args, cfg)
    results = root / "results"
    truth = read_truth(pools.truth_file(root, read_config(root / "config" / "config.yaml")))
    to_run = strategies(args, cfg["selection"])
    settings = {k: v for k, v in cfg["train"].items() if k != "rule_labels"}
    spec = TrainSpec(**settings, seed=cfg["seed"])
    if args.probe_c is not None:
        spec = dataclasses.replace(spec, probe_c=args.probe_c)
    known = read_known(results / "data" / "filtered_meta.csv", cfg["known_answers"])
    val = split_filenames(results / "data" / "split.csv", "val")
    undecided = np.array([pd.isna(known.get(n)) for n in val])
    if not undecided.any():
        raise SystemExit("no validation image is undecided: every condition's label is known_answers'")
    val_known = known.reindex(val)
    rule_val = rule_probabilities(val_known, CATS, CATS[0])
    metadata = metadata_table(results / "data" / "metadata")
    y_val = np.array([CATS.index(truth[n]) for n in val])
    train_names = split_filenames(results / "data" / "split.csv", "train")
    decoded: dict[tuple, list] = {}  # backbones made alike share one decoding of the images
    line_feats: dict[str, np.ndarray] | None = None  # the classical features, the same for every backbone
    models: dict[int, tuple] = {}
    rows = []

    def row(seed: int, ssl: int, strategy: str, r: int, labeled: list[str], p_val: np.ndarray) -> dict:
        bacc, auroc = scores(p_val[undecided], y_val[undecided])
        answered = np.where(undecided[:, None], p_val, rule_val)  # what the pipeline answers
        all_bacc, _ = scores(answered, y_val)
        return {
            "seed": seed,
            "backbone": ssl,
            "strategy": strategy,
            "round": r,
            "n_labels": len(labeled),
            "balanced_accuracy": bacc,
            "auroc": auroc,
            "all_model_and_rule_balanced_accuracy": all_bacc,
            "track_share": float(np.mean([truth[n] == "track" for n in labeled])) if labeled else 0.0,
        }

    for seed, ssl in zip(range(args.first_seed, args.first_seed + args.seeds), backbone_seeds(args, cfg["seed"])):
        if ssl not in models:
            d = backbone(root, train_names, ssl)
            pool_names, embeddings = read_embeddings(d / "embeddings.csv")
            if args.mode == "fast":
                net, made = load_backbone(d / "backbone.pt")
                names = pool_names + val
                recipe = (tuple(names), made["input_size"], made["foci_channel"])
                if recipe not in decoded:
                    decoded[recipe] = load_images(results / "data" / "images", *recipe)
                if line_feats is None and cfg["train"].get("line_features", True):
                    line_feats = dict(zip(names, image_features(results / "data" / "images", names)))
                model = FastModel(
                    dict(zip(names, head_features(features(net, decoded[recipe])))), line_feats, spec.probe_c
                )
            else:
                conditions = by_image(pd.read_csv(results / "data" / "filtered_meta.csv"))
                model = FullModel(results / "data" / "images", d / "backbone.pt", spec, conditions)
            models[ssl] = (pool_names, embeddings, model)
        pool_names, embeddings, model = models[ssl]
        # each seed sees a different 90 % of the pool, so deterministic strategies vary too
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(pool_names), int(0.9 * len(pool_names)), replace=False))
        names = [pool_names[i] for i in keep]
        emb = embeddings[keep]
        is_known = np.array([not pd.isna(known.get(n)) for n in names])
        for strategy, (first, later) in to_run.items():
            labeled: list[str] = []
            probs = None
            for r in range(1, args.rounds + 1):
                sel = {"n_samples": args.batch, "strategies": seeded(first if r == 1 else later, seed * 100 + r)}
                pool = Pool(names, emb, metadata, probs, categories=CATS, known=is_known)
                labeled += select(sel, pool, labeled, where=f"{strategy} round {r}")
                labels = {n: CATS.index(truth[n]) for n in labeled}
                probs, p_val = model.fit_predict(labels, names, val)
                rows.append(row(seed, ssl, strategy, r, labeled, p_val))
                if strategy == DEFAULT:
                    # the baselines on the same images, at the same budget
                    rows.append(row(seed, ssl, RULE, r, labeled, rule_val))
                    majority = majority_class({n: truth[n] for n in labeled}, CATS)
                    const = np.zeros_like(p_val)
                    const[:, CATS.index(majority)] = 1.0
                    rows.append(row(seed, ssl, MAJORITY, r, labeled, const))
        print(f"seed {seed} (backbone {ssl}) done", flush=True)
    return pd.DataFrame(rows)


def labels_to_reach(curve: pd.Series, target: float) -> float:
    """Labels at which a mean learning curve (balanced accuracy by budget) first reaches `target`,
    read off linearly between budgets; nan where it never does. The first budget counts as reached
    at that budget: the curve has no point below it."""
    budgets, values = curve.index.to_numpy(dtype=float), curve.to_numpy()
    for i, (b, v) in enumerate(zip(budgets, values)):
        if v >= target:
            if i == 0:
                return float(b)
            b0, v0 = budgets[i - 1], values[i - 1]
            return float(b0 + (b - b0) * (target - v0) / (v - v0))
    return float("nan")


def savings(df: pd.DataFrame) -> pd.DataFrame:
    """Per strategy: labels to reach random's mean balanced accuracy at the largest budget (the
    issue's headline: a strategy that needs 60 where random needs 100 saves 1.7x)."""
    curves = df.groupby(["strategy", "n_labels"])["balanced_accuracy"].mean().unstack("n_labels")
    top = curves.columns.max()
    target = float(curves.loc["random", top])
    need = {s: labels_to_reach(curves.loc[s], target) for s in curves.index if s not in (RULE, MAJORITY)}
    return pd.DataFrame({"labels_to_random_at_max": need, "random_at_max": target, "max_labels": int(top)}).rename_axis(
        "strategy"
    )


def interval_units(df: pd.DataFrame) -> str:
    """What one observation of the AUBC interval is: seeds are independent only where each has
    its own backbone; seeds sharing one of several are one observation; with a single backbone
    for all (--pipeline-backbone) the interval is over seeds, given it."""
    if df["backbone"].nunique() == 1:
        return "over seeds given the one backbone"
    if df["backbone"].nunique() < df["seed"].nunique():
        return "over backbones: seeds that share one are one observation"
    return "over seeds"


def aubc_difference(df: pd.DataFrame, strategy: str) -> dict:
    """A strategy's area under the budget curve minus random's, in points: the mean and std over
    seeds, how many seeds it beats random on, and the 95 % t interval over `interval_units`
    (None where there is one unit)."""
    aubc = df.groupby(["strategy", "seed"])["balanced_accuracy"].mean().unstack("strategy")
    d = 100 * (aubc[strategy] - aubc["random"])
    by_backbone = df["backbone"].nunique() not in (1, df["seed"].nunique())
    units = d.groupby(df.groupby("seed")["backbone"].first().reindex(d.index)).mean() if by_backbone else d
    out = {
        "mean": float(d.mean()),
        "std": float(d.std()),
        "better": int((d > 0).sum()),
        "seeds": len(d),
        "unit": "backbone" if by_backbone else "seed",
        "low": None,
        "high": None,
    }
    if len(units) > 1:
        half = stats.t.ppf(0.975, len(units) - 1) * units.std() / np.sqrt(len(units))
        out.update(low=float(units.mean() - half), high=float(units.mean() + half))
    return out


def report(df: pd.DataFrame, plot: Path) -> str:
    lines = []
    ran = list(dict.fromkeys(df["strategy"]))
    table = df.groupby(["strategy", "n_labels"]).agg(
        bacc_mean=("balanced_accuracy", "mean"),
        bacc_std=("balanced_accuracy", "std"),
        auroc_mean=("auroc", "mean"),
        auroc_std=("auroc", "std"),
    )
    budgets = sorted(df["n_labels"].unique())
    lines.append(
        f"Undecided validation images: balanced accuracy (mean ± std over {df['seed'].nunique()} seeds "
        f"{df['seed'].min()}-{df['seed'].max()}, {df['backbone'].nunique()} backbones) by number of labels"
    )
    lines.append("| strategy | " + " | ".join(str(b) for b in budgets) + " | AUBC |")
    lines.append("|---" * (len(budgets) + 2) + "|")
    aubc = df.groupby(["strategy", "seed"])["balanced_accuracy"].mean().unstack("strategy")
    for s in ran:
        cells = [f"{table.loc[(s, b), 'bacc_mean']:.3f} ± {table.loc[(s, b), 'bacc_std']:.3f}" for b in budgets]
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {aubc[s].mean():.3f} ± {aubc[s].std():.3f} |")
    lines.append("")
    lines.append("Undecided validation images: AUROC (mean ± std over seeds) by number of labels")
    lines.append("| strategy | " + " | ".join(str(b) for b in budgets) + " |")
    lines.append("|---" * (len(budgets) + 1) + "|")
    for s in ran:
        cells = [f"{table.loc[(s, b), 'auroc_mean']:.3f} ± {table.loc[(s, b), 'auroc_std']:.3f}" for b in budgets]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "All validation images as the pipeline answers them (the rule where the condition decides, "
        "the model elsewhere): balanced accuracy (mean ± std over seeds)"
    )
    lines.append("| strategy | " + " | ".join(str(b) for b in budgets) + " |")
    lines.append("|---" * (len(budgets) + 1) + "|")
    every = df.groupby(["strategy", "n_labels"])["all_model_and_rule_balanced_accuracy"].agg(["mean", "std"])
    for s in ran:
        cells = [f"{every.loc[(s, b), 'mean']:.3f} ± {every.loc[(s, b), 'std']:.3f}" for b in budgets]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "Paired difference of AUBC from random, in points of balanced accuracy: mean ± std over "
        f"seeds, and the 95 % confidence interval of the mean (t distribution, {interval_units(df)})"
    )
    for s in ran:
        if s == "random":
            continue
        d = aubc_difference(df, s)
        better = f"seeds better than random: {d['better']}/{d['seeds']}"
        if d["low"] is None:
            lines.append(f"- {s}: {d['mean']:+.1f} (one {d['unit']}: no interval; {better})")
        else:
            lines.append(
                f"- {s}: {d['mean']:+.1f} ± {d['std']:.1f}, 95 % CI {d['low']:+.1f} to {d['high']:+.1f} ({better})"
            )
    lines.append("")
    need = savings(df)
    top = int(need["max_labels"].iloc[0])
    lines.append(
        f"Labels to reach random's balanced accuracy at {top} labels ({need['random_at_max'].iloc[0]:.3f}), "
        "read off the mean curves; '>' where a strategy never does"
    )
    for s, n in need["labels_to_random_at_max"].items():
        if s == "random":
            continue
        first = int(df["n_labels"].min())
        if np.isnan(n):
            lines.append(f"- {s}: > {top}")
        else:
            bound = n == first  # reached at the first budget: the saving is at least this
            lines.append(
                f"- {s}: "
                + (f"<= {first}" if bound else f"{n:.0f}")
                + f" ({'at least ' if bound else ''}{top / n:.1f}x fewer)"
            )
    text = "\n".join(lines)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # a readable plot: random, the tutorial, the default and the two best others (the table has all)
    fixed = ("random", "tutorial", DEFAULT, RULE)
    others = aubc.mean().drop([s for s in (*fixed, MAJORITY) if s in aubc], errors="ignore")
    shown = [s for s in fixed if s in ran] + list(others.nlargest(2).index)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for s in shown:
        m = df[df["strategy"] == s].groupby("n_labels")
        for ax, key in zip(axes, ("balanced_accuracy", "auroc")):
            mean, std = m[key].mean(), m[key].std()
            ax.plot(mean.index, mean.values, marker="o", label=s)
            ax.fill_between(mean.index, mean - std, mean + std, alpha=0.12)
    for ax, title in zip(axes, ("balanced accuracy", "AUROC")):
        ax.set_xlabel("labels")
        ax.set_title(f"undecided validation images: {title}")
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
    parser.add_argument(
        "--headline", action="store_true", help="random and the default config only (benchmarks/label_savings.py)"
    )
    parser.add_argument(
        "--generator", choices=sorted(VARIANTS), help="a generator variant of benchmarks/generator_spread.py"
    )
    parser.add_argument(
        "--pipeline-backbone",
        action="store_true",
        help="every seed uses the pool's own SimCLR backbone (cheaper; intervals are then given it)",
    )
    parser.add_argument(
        "--pool",
        choices=["subset", "all"],
        default="subset",
        help="the default config's pool, or every synthetic image (see above)",
    )
    parser.add_argument(
        "--all-epochs",
        type=int,
        default=2,
        help="SimCLR epochs for the `all` pool (about the default's steps on 8x the images)",
    )
    parser.add_argument(
        "--ssl-seeds", type=int, default=0, help="backbones to cycle through; 0 (default) gives every seed its own"
    )
    parser.add_argument(
        "--first-seed",
        type=int,
        default=100,
        help="first seed; 0-99 are for choosing defaults, the docs report from 100 on",
    )
    parser.add_argument(
        "--configfile",
        type=Path,
        default=REPO / "config" / "config.yaml",
        help="any config whose oracle has a truth file",
    )
    parser.add_argument(
        "--probe-c",
        type=float,
        default=None,
        help="the probe's inverse L2 strength (default: the config's train.probe_c)",
    )
    args = parser.parse_args()
    out = OUT
    out.mkdir(parents=True, exist_ok=True)
    df = run(args)
    stem = f"label_efficiency_{args.mode}" + ("" if args.pool == "subset" else f"_{args.pool}")
    stem += f"_batch{args.batch}" if args.batch != 20 else ""
    stem += "" if pools.is_default(args.configfile) else f"_{args.configfile.stem}"
    stem += "" if args.generator is None else f"_{slug(args.generator)}"
    stem += "_pipeline-backbone" if args.pipeline_backbone else ""
    stem += "_headline" if args.headline else ""
    stem += f"_seeds{args.first_seed}-{args.first_seed + args.seeds - 1}"
    stem += "" if args.probe_c is None else f"_c{args.probe_c:g}"
    stem += "_only" if args.only else ""  # a partial run does not replace the full table
    text = report(df, out / f"{stem}.png")
    print(text)
    # the tables behind the figures in docs/ are committed; choosing runs (seeds below 100) are not
    tables = REPO / "docs" / "results" if args.first_seed >= 100 and not args.only and args.probe_c is None else out
    df.to_csv(tables / f"{stem}.csv", index=False)
    (tables / f"{stem}.md").write_text(text + "\n")
    print(f"\ntables: {tables / (stem + '.md')}, {tables / (stem + '.csv')}; plot: {out / (stem + '.png')}")


if __name__ == "__main__":
    main()
