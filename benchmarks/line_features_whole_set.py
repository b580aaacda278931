"""Faint and Radon line features on the whole synthetic set: do they see the tracks the bright
foci miss, and does the pipeline then hold where it did not?

Every generator of benchmarks/generator_spread.py and the two held out (threshold_skew.HELD_OUT)
has a whole-set run (3,400 images, all 17 conditions) from benchmarks/readout_coverage.py /
threshold_skew.py --held-out; run those first. On each, the images the condition does not decide
(about 1,000) are scored two ways:

- `--probe`: the pipeline's class-balanced linear probe (C = train.probe_c) on the run's SimCLR
  features and a set of the classical features, fitted on 100 random undecided images (10 draws)
  and scored on all the others. The feature set was chosen on the eight generators; the held-out
  two only check it. Writes docs/results/line_features_whole_set_probe.{tsv,md}.
- `--pipeline` (the default): each run cloned (images hard-linked) and rerun from training on with
  this checkout's code; beside the run as it was (made with the five bright-foci features only),
  round 2's figures on the 60 undecided validation images, on every undecided image no one
  labeled (about 900, the truth known: far less noisy than 60), and over all validation images
  the pipeline's answer beside the rule's. Writes docs/results/line_features_whole_set.{tsv,md}.

    .venv/bin/python benchmarks/line_features_whole_set.py [--probe] [--only REGEX] [--cores N]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from generator_spread import VARIANTS as GENERATORS
from generator_spread import slug
from pools import pool_figures, rerun_from_training, truth_of, unlabeled
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from threshold_skew import HELD_OUT, clone

from bps_labeler.data.images import load_images
from bps_labeler.embeddings.backbone import features, load_backbone
from bps_labeler.models.classifier import head_features, linear_probe
from bps_labeler.models.foci import NAMES, image_features
from bps_labeler.models.metrics import metrics

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "results"
CATS = ("track", "no track")
TARGETS = ("results/round_2/metrics.json", "results/round_2/inference/answers.csv")
BRIGHT = list(range(5))
FAINT = [NAMES.index(n) for n in NAMES if n.startswith("faint_")]
RADON = [NAMES.index(n) for n in NAMES if n.startswith("radon_")]
FEATURE_SETS: dict[str, list[int] | None] = {
    "learned only": None,
    "learned + bright foci (before)": BRIGHT,
    "learned + bright + faint": BRIGHT + FAINT,
    "learned + bright + Radon": BRIGHT + RADON,
    "learned + bright + faint + Radon (now)": BRIGHT + FAINT + RADON,
}


def generators() -> dict[str, tuple[dict, bool]]:
    """name -> (generator settings, held out)."""
    return {**{k: (v, False) for k, v in GENERATORS.items()}, **{k: (v, True) for k, v in HELD_OUT.items()}}


def whole_set_runs(args: argparse.Namespace) -> Iterator[tuple[str, bool, Path]]:
    """(name, held out, folder) of every generator's finished whole-set run that `--only` picks."""
    for name, (_, held) in generators().items():
        if args.only and not re.search(args.only, name):
            continue
        root = REPO / "benchmarks" / "out" / "readout" / slug(name)
        if (root / "results" / "round_2" / "inference" / "answers.csv").exists():
            yield name, held, root
        else:
            print(f"{name}: no whole-set run in {root}; run readout_coverage.py / threshold_skew.py --held-out first")


def validation_figures(root: Path) -> dict[str, float]:
    m = json.loads((root / "results" / "round_2" / "metrics.json").read_text())
    undecided, overall = m["baselines"]["undecided"], m["baselines"]["overall"]
    v = pd.read_csv(root / "results" / "round_2" / "validation.csv")
    u = v[v["rule"].isna()]
    best = metrics(u[["p_track", "p_no track"]].to_numpy(), (u["label"] != "track").astype(int).tolist(), CATS)
    return {
        "val_balanced_accuracy": undecided["model"]["balanced_accuracy"],
        "val_auroc": undecided["model"]["auroc"],
        "val_best_threshold": best["best_threshold_balanced_accuracy"],
        "all_model_and_rule": overall["model_and_rule"]["balanced_accuracy"],
        "all_rule": overall["metadata_rule"]["balanced_accuracy"],
        "labels": " / ".join(f"{k} {v}" for k, v in sorted(m["labels_per_class"].items())),
    }


def comparison_rows(name: str, held: bool, column: str, runs: dict[str, Path], seconds: float) -> list[dict]:
    """One row of figures per run of a generator (`column`'s value -> its folder, the rerun last,
    which took `seconds`)."""
    last = list(runs.values())[-1]
    return [
        {
            "generator": name,
            "held_out": held,
            column: value,
            **validation_figures(folder),
            **pool_figures(unlabeled(folder)),
            "minutes": round(seconds / 60, 1) if folder == last else float("nan"),
        }
        for value, folder in runs.items()
    ]


def write_comparison(rows: list[dict], column: str, stem: str, intro: str, more: str = "") -> str:
    """docs/results/<stem>.tsv of `rows`, and <stem>.md: `intro`, the comparison, then `more`."""
    df = pd.DataFrame(rows)
    df.to_csv(OUT / f"{stem}.tsv", sep="\t", index=False, float_format="%.4f")
    text = comparison_text(df, column)
    (OUT / f"{stem}.md").write_text(intro + "\n\n" + text + more + "\n")
    return text


def comparison_text(df: pd.DataFrame, column: str) -> str:
    """The table of round 2's figures per generator and `column` (what differs between the runs),
    then the medians and worst cases of each `column` value over the eight and the held-out two."""
    lines = [
        f"| generator | {column} | round 2 labels | undecided val: BA (AUROC) | unlabeled undecided pool: n, "
        "BA (AUROC) | all val: model and rule / rule | all unlabeled: model and rule / rule |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in df.to_dict("records"):
        lines.append(
            f"| {r['generator']}{' (held out)' if r['held_out'] else ''} | {r[column]} | {r['labels']} | "
            f"{r['val_balanced_accuracy']:.3f} ({r['val_auroc']:.3f}) | {r['pool_n']}, "
            f"{r['pool_balanced_accuracy']:.3f} ({r['pool_auroc']:.3f}) | {r['all_model_and_rule']:.3f} / "
            f"{r['all_rule']:.3f} | {r['pool_all_model_and_rule']:.3f} / {r['pool_all_rule']:.3f} |"
        )
    lines.append("")
    for (value, held), d in df.groupby([column, "held_out"], sort=False):
        lines.append(
            f"{value}, {'held-out generators' if held else 'the eight generators'}: pool BA median "
            f"{d['pool_balanced_accuracy'].median():.3f}, worst {d['pool_balanced_accuracy'].min():.3f}; pool "
            f"AUROC median {d['pool_auroc'].median():.3f}, worst {d['pool_auroc'].min():.3f}; validation BA "
            f"median {d['val_balanced_accuracy'].median():.3f}, worst {d['val_balanced_accuracy'].min():.3f}, "
            f"AUROC median {d['val_auroc'].median():.3f}; all images at least the rule's on "
            f"{int((d['all_model_and_rule'] >= d['all_rule']).sum())} of {len(d)} (validation), "
            f"{int((d['pool_all_model_and_rule'] >= d['pool_all_rule']).sum())} of {len(d)} (all unlabeled)."
        )
    return "\n".join(lines)


def pipeline(args: argparse.Namespace) -> None:
    rows = []
    for name, held, source in whole_set_runs(args):
        root = REPO / "benchmarks" / "out" / "line_features" / slug(name)
        if args.again or not (root / "results" / "round_2" / "inference" / "answers.csv").exists():
            clone(source, root)
            seconds = rerun_from_training(root, list(TARGETS), args.cores, "snakemake_features.log")
        else:
            seconds = float("nan")
        rows += comparison_rows(
            name, held, "features", {"bright foci (before)": source, "bright + faint + Radon (now)": root}, seconds
        )
        print(pd.DataFrame(rows[-2:]).to_string(index=False), flush=True)
    intro = (
        "# Faint and Radon line features on the whole synthetic set: the pipeline\n\n"
        f"`benchmarks/line_features_whole_set.py`, last run {time.strftime('%Y-%m-%d')}, 2 cores: each "
        "generator's whole-set run (3,400 images, all 17 conditions; made with the five bright-foci "
        "features) beside the same run rerun from training on with all twelve (`foci.NAMES`), round 2 "
        "(100 labels). BA = balanced accuracy. [line_features_whole_set.tsv](line_features_whole_set.tsv)."
    )
    print(write_comparison(rows, "features", "line_features_whole_set", intro))


def probe_rows(name: str, held: bool, root: Path, draws: int, n: int, c: float) -> list[dict]:
    answers = pd.read_csv(root / "results" / "round_2" / "inference" / "answers.csv")
    names = answers.loc[answers["answered_by"] == "model", "filename"].tolist()
    truth = truth_of(root)
    y = np.array([truth[x] == "track" for x in names])
    images = root / "results" / "data" / "images"
    net, made = load_backbone(root / "results" / "embeddings" / "backbone.pt")
    learned = head_features(features(net, load_images(images, names, made["input_size"], made["foci_channel"])))
    start = time.perf_counter()
    classical = image_features(images, names)
    ms = 1000 * (time.perf_counter() - start) / len(names)
    rows = []
    for label, cols in FEATURE_SETS.items():
        bas, aucs = [], []
        for d in range(draws):
            order = np.random.default_rng(d).permutation(len(y))
            tr, te = order[:n], order[n:]
            a, b = [learned[tr]], [learned[te]]
            if cols is not None:
                x_tr, x_te = classical[tr][:, cols], classical[te][:, cols]
                mean, std = x_tr.mean(axis=0), x_tr.std(axis=0) + 1e-6
                a.append((x_tr - mean) / std)
                b.append((x_te - mean) / std)
            clf = linear_probe(np.hstack(a), y[tr], c)
            bas.append(balanced_accuracy_score(y[te], clf.predict(np.hstack(b))))
            aucs.append(roc_auc_score(y[te], clf.predict_proba(np.hstack(b))[:, 1]))
        rows.append(
            {
                "generator": name,
                "held_out": held,
                "features": label,
                "n_undecided": len(y),
                "balanced_accuracy": float(np.mean(bas)),
                "auroc": float(np.mean(aucs)),
                "classical_ms_per_image": ms,
            }
        )
    return rows


def probe(args: argparse.Namespace) -> None:
    c = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["train"]["probe_c"]
    rows = []
    for name, held, root in whole_set_runs(args):
        rows += probe_rows(name, held, root, args.draws, args.labels, c)
        print(pd.DataFrame(rows[-len(FEATURE_SETS) :]).to_string(index=False), flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(OUT / "line_features_whole_set_probe.tsv", sep="\t", index=False, float_format="%.4f")
    wide = df.pivot_table(index="features", columns="generator", values=["balanced_accuracy", "auroc"], sort=False)
    lines = ["| features | " + " | ".join(wide["auroc"].columns) + " |", "|---" * (1 + wide["auroc"].shape[1]) + "|"]
    for label in FEATURE_SETS:
        cells = [
            f"{wide['balanced_accuracy'].loc[label, g]:.3f} ({wide['auroc'].loc[label, g]:.3f})"
            for g in wide["auroc"].columns
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    before = df[df["features"] == "learned + bright foci (before)"].set_index("generator")
    for label in list(FEATURE_SETS)[2:]:
        d = df[df["features"] == label].set_index("generator")
        gain = d["auroc"] - before["auroc"]
        ba_gain = d["balanced_accuracy"] - before["balanced_accuracy"]
        for held in (False, True):
            g = gain[d["held_out"] == held]
            lines.append(
                f"{label} against bright foci alone, {'held out' if held else 'the eight'}: AUROC "
                f"{g.median():+.3f} median ({g.min():+.3f} to {g.max():+.3f}), higher on {int((g > 0).sum())} of "
                f"{len(g)}; balanced accuracy {ba_gain[d['held_out'] == held].median():+.3f} median."
            )
    lines.append(f"\nclassical features: {df['classical_ms_per_image'].median():.1f} ms per image (median over runs)")
    text = "\n".join(lines)
    (OUT / "line_features_whole_set_probe.md").write_text(
        "# Faint and Radon line features on the whole synthetic set: the linear probe\n\n"
        f"`benchmarks/line_features_whole_set.py --probe`, last run {time.strftime('%Y-%m-%d')}, 2 cores: "
        f"on each generator's whole-set run, the probe (C {c}) on {args.labels} random undecided images, "
        f"{args.draws} draws, scored on the other undecided images (about 900); mean balanced accuracy "
        "(AUROC). Chosen on the eight generators of generator_spread, checked on the two held out. "
        "[line_features_whole_set_probe.tsv](line_features_whole_set_probe.tsv).\n\n" + text + "\n"
    )
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probe", action="store_true", help="the linear probe on feature sets, not the pipeline")
    parser.add_argument("--only", help="generators whose name matches this regular expression")
    parser.add_argument("--cores", default="all")
    parser.add_argument("--again", action="store_true", help="rerun the pipeline even where it ran")
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    probe(args) if args.probe else pipeline(args)


if __name__ == "__main__":
    main()
