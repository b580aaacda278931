"""Does the pipeline hold on data it was not tuned on? The whole loop on varied generators.

The defaults (features, selection, training) were chosen on the built-in synthetic data set. A
feature that only fits that one generator would look good there and fail on the real images, so
this runs the unchanged pipeline (`snakemake results/round_2/metrics.json`, the default config
or `--configfile`) on data sets made with other generator settings: foci size and brightness,
foci per track, track length and angle, camera offset and noise, nucleus size and texture, share
of hit nuclei, background foci. Each gets its own folder under benchmarks/out/generators/ (its
own synthetic images, SimCLR backbone, selections and models); nothing is tuned per variant.

Prints, per variant and round, the model on the undecided validation images (balanced accuracy
and AUROC) beside the metadata rule and the majority class there, and over all images the
pipeline's answer (rule where the condition decides, model elsewhere) beside the rule; then the
spread over variants. Writes the table to docs/results/generator_spread.{tsv,md} (committed, so
the figures in docs/features.md can be checked) unless `--only` picks a subset.

Two scopes. `subset` (default): the config's own pool (the default subset, Fe 0.82 Gy and X-ray
1 Gy at 4 h). `all`: the whole synthetic set, every one of the 17 conditions, where most of what
is hard lives (low doses, late times); these are the runs of benchmarks/readout_coverage.py (the
same folders under benchmarks/out/readout/, run here where missing, reused where there), so
that one run of the pipeline gives both the readout's coverage and the model's figures. Its
SimCLR trains on a sample to keep a variant near ten minutes; the table names the settings each
run had. Writes docs/results/generator_spread_all.{tsv,md}.

    .venv/bin/python benchmarks/generator_spread.py [--only REGEX] [--configfile FILE] [--cores N]
        [--scope subset|all] [--train-images N] [--epochs N] [--backbone NAME] [--retrain] [--out DIR]
        [--tables STEM]
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pools import answers_and_rule, pool_figures, snakemake_command, unlabeled

REPO = Path(__file__).resolve().parents[1]

#: name -> generator settings (SyntheticSpec fields) that differ from the built-in data set's.
VARIANTS: dict[str, dict[str, float | bool]] = {
    "built-in (default)": {},
    "small dim foci": {"foci_size": 0.7, "foci_brightness": 450},
    "sparse short tracks": {"foci_gap": 1.6, "track_length": 0.6},
    "noisy camera, rough nuclei": {"background": 800, "noise": 35, "texture": 2.0},
    "rare hits, busy background": {"fe_hits_per_gy": 0.7, "background_foci": 5},
    "big bright foci, small nuclei": {"foci_size": 1.6, "foci_brightness": 1600, "nucleus_size": 0.8},
    "tracks at one angle, many X-ray foci": {"track_angle": 0.2, "xray_foci_per_gy": 25},
    # what biology does (issue 27): steep traversals (hard negatives), foci fading by 48 h,
    # crops of any shape, traversals by nucleus area
    "steep hits, fading foci, varied crops": {
        "steep_share": 0.3,
        "fading": 0.6,
        "aspect_spread": 0.4,
        "hits_by_area": True,
    },
}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def with_generator(base: dict, generator: dict) -> dict:
    """A copy of a synthetic config with a variant's generator settings over its own."""
    if base["source"]["kind"] != "synthetic":
        raise SystemExit("a generator variant needs a config whose source is synthetic")
    cfg = copy.deepcopy(base)
    synthetic = cfg["source"]["synthetic"]
    synthetic["generator"] = {**synthetic.get("generator", {}), **generator}
    return cfg


def run_variant(
    name: str, generator: dict, base: dict, cores: str, retrain: bool = False, out: str = "generators"
) -> tuple[Path, float]:
    """The pipeline's rounds 1 and 2 on one generator, in its own folder; (folder, seconds).

    Round 2 also answers every image of the pool (its inference), so the figures count the few
    hundred images no one labeled beside the 100 undecided validation images.

    `retrain`: training and what follows it again where the folder has run (Snakemake does not
    see a change to the library, only to rules, scripts, params and inputs; by modification
    times only, so older records do not rerun the embedding)."""
    again = ["--rerun-triggers", "mtime", "--forcerun", "train"] if retrain else []
    cfg = with_generator(base, generator)
    root = REPO / "benchmarks" / "out" / out / slug(name)
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    command = [
        *snakemake_command(cores),
        "--directory",
        str(root),
        "results/round_2/metrics.json",
        "results/round_2/inference/answers.csv",
        *again,  # after the targets: --forcerun takes every word that follows it
    ]
    # a finished run keeps the minutes it took (the table reports those, not a check's seconds)
    took = root / "run_seconds.txt"
    if not retrain and took.exists():
        dry = subprocess.run([*command, "--dry-run", "--quiet"], capture_output=True, text=True, check=False)
        if dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr:
            return root, float(took.read_text())
    start = time.perf_counter()
    with (root / "snakemake.log").open("w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        raise SystemExit(f"{name}: the pipeline failed; see {root / 'snakemake.log'}")
    seconds = time.perf_counter() - start
    took.write_text(f"{seconds:.1f}\n")
    return root, seconds


def run_whole_set(name: str, generator: dict, args: argparse.Namespace) -> tuple[Path, float]:
    """The whole-set run of one generator: readout_coverage's, reused where it is complete."""
    import readout_coverage

    root = REPO / "benchmarks" / "out" / "readout" / slug(name)
    if all((root / "results" / f"round_{r}" / "metrics.json").exists() for r in (1, 2)):
        return root, float("nan")
    return readout_coverage.run(name, generator, args)


def settings_of(root: Path) -> str:
    cfg = yaml.safe_load((root / "config" / "config.yaml").read_text())
    embed = cfg["embed"]
    return (
        f"{cfg['source']['synthetic']['n_images']} images, SimCLR {embed['train_images']} images "
        f"x {embed['epochs']} epochs"
    )


def rows_of(name: str, root: Path, seconds: float) -> list[dict]:
    truth = pd.read_csv(root / "resources" / "synthetic" / "truth.csv")
    rows = []
    for r in (1, 2):
        m = json.loads((root / "results" / f"round_{r}" / "metrics.json").read_text())
        b = m["baselines"]
        und, alls = b["undecided"], b["overall"]
        tracks = und["model"]["confusion_matrix"][0]
        rows.append(
            {
                "variant": name,
                "round": r,
                "n_labels": m["n_labels"],
                "undecided_n_val": und["n_val"],
                "undecided_tracks": int(sum(tracks)),
                "model_bacc": und["model"]["balanced_accuracy"],
                "model_auroc": und["model"]["auroc"],
                "rule_bacc": und["metadata_rule"]["balanced_accuracy"],
                "majority_bacc": und["majority"]["balanced_accuracy"],
                "all_model_and_rule_bacc": alls["model_and_rule"]["balanced_accuracy"],
                "all_rule_bacc": alls["metadata_rule"]["balanced_accuracy"],
                "track_share_all_images": round(float((truth["label"] == "track").mean()), 3),
                "minutes": round(seconds / 60, 1),
                "settings": settings_of(root),
                **(unlabeled_figures(root) if r == 2 else {}),
            }
        )
    return rows


def unlabeled_figures(root: Path) -> dict[str, float]:
    """Round 2 on every image no one labeled: on the whole set about 900 undecided images against
    the 60 validation ones, on the default subset about 300 against 100."""
    if not (root / "results" / "round_2" / "inference" / "answers.csv").exists():
        return {}
    every = unlabeled(root)
    low, high = gain_interval(*answers_and_rule(every))
    return {**pool_figures(every), "pool_all_gain_low": low, "pool_all_gain_high": high}


def gain_interval(y: np.ndarray, answer: np.ndarray, rule: np.ndarray, draws: int = 2000) -> tuple[float, float]:
    """95 % interval of the answer's balanced accuracy minus the rule's, the same images drawn
    for both (paired bootstrap): whether "at least the rule's" is more than luck of the draw."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(y), (draws, len(y)))
    yy = y[idx]

    def balanced(calls: np.ndarray) -> np.ndarray:
        c = calls[idx]
        return 0.5 * ((c & yy).sum(1) / yy.sum(1) + (~c & ~yy).sum(1) / (~yy).sum(1))

    low, high = np.percentile(balanced(answer) - balanced(rule), [2.5, 97.5])
    return float(low), float(high)


def report(df: pd.DataFrame) -> str:
    lines = [
        (
            "Undecided validation images (irradiated Fe): the model beside the rule and the majority "
            "(balanced accuracy; AUROC in brackets). All images: the pipeline's answer (rule where "
            "the condition decides, model elsewhere) beside the rule."
        ),
        "",
        "| generator | round | labels | undecided (tracks) | model | rule | majority "
        "| all: model and rule | all: rule | minutes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in df.itertuples():
        lines.append(
            f"| {row.variant} | {row.round} | {row.n_labels} | {row.undecided_n_val} ({row.undecided_tracks}) | "
            f"**{row.model_bacc:.3f}** ({row.model_auroc:.3f}) | {row.rule_bacc:.3f} | {row.majority_bacc:.3f} | "
            f"{row.all_model_and_rule_bacc:.3f} | {row.all_rule_bacc:.3f} | "
            + ("reused" if pd.isna(row.minutes) else f"{row.minutes}")
            + " |"
        )
    lines.append("")
    for r in (1, 2):
        d = df[df["round"] == r]
        lines.append(
            f"Round {r} over {len(d)} generators: undecided balanced accuracy median "
            f"{d['model_bacc'].median():.3f}, range {d['model_bacc'].min():.3f} to {d['model_bacc'].max():.3f}; "
            f"AUROC median {d['model_auroc'].median():.3f}, range {d['model_auroc'].min():.3f} to "
            f"{d['model_auroc'].max():.3f}."
        )
        held = d[d["all_model_and_rule_bacc"] >= d["all_rule_bacc"]]
        lines.append(
            f"Round {r}: the pipeline's answer over all images at least the rule's on {len(held)} of {len(d)} "
            f"generators; worst undecided balanced accuracy {d['model_bacc'].min():.3f} "
            f"({d.loc[d['model_bacc'].idxmin(), 'variant']})."
        )
    if "pool_balanced_accuracy" in df:
        lines += ["", *unlabeled_report(df[df["round"] == 2]), ""]
    wide = df.pivot(index="variant", columns="round", values="model_bacc")
    if {1, 2} <= set(wide.columns):
        worse = wide[wide[2] < wide[1]]
        lines.append(
            f"Round 2 below round 1 on {len(worse)} of {len(wide)} generators"
            + (f": {', '.join(worse.index)}." if len(worse) else ".")
        )
    if df["settings"].nunique() > 1:
        per = df.drop_duplicates("variant").set_index("variant")["settings"]
        lines.append("Settings: " + "; ".join(f"{v}: {t}" for v, t in per.items()) + ".")
    else:
        lines.append(f"Settings: {df['settings'].iloc[0]}.")
    return "\n".join(lines)


def unlabeled_report(d: pd.DataFrame) -> list[str]:
    """Round 2 on every image no one labeled: the undecided ones and the answer over all."""
    lines = [
        "Round 2 on every image no one labeled (the validation images' figures above are from the undecided "
        "validation images only; these count every undecided image round 2 did not train on):",
        "",
        "| generator | undecided unlabeled: n, BA (AUROC) | all unlabeled: model and rule | all unlabeled: rule "
        "| difference (95 % interval) |",
        "|---|---|---|---|---|",
    ]
    for row in d.itertuples():
        lines.append(
            f"| {row.variant} | {row.pool_n:.0f}, **{row.pool_balanced_accuracy:.3f}** ({row.pool_auroc:.3f}) | "
            f"{row.pool_all_model_and_rule:.3f} | {row.pool_all_rule:.3f} | "
            f"{row.pool_all_model_and_rule - row.pool_all_rule:+.3f} ({row.pool_all_gain_low:+.3f} to "
            f"{row.pool_all_gain_high:+.3f}) |"
        )
    held = int((d["pool_all_model_and_rule"] >= d["pool_all_rule"]).sum())
    worst = d.loc[d["pool_balanced_accuracy"].idxmin()]
    lines += [
        "",
        f"Over {len(d)} generators: undecided unlabeled balanced accuracy median "
        f"{d['pool_balanced_accuracy'].median():.3f}, worst {worst['pool_balanced_accuracy']:.3f} "
        f"({worst['variant']}); AUROC median {d['pool_auroc'].median():.3f}, "
        f"worst {d['pool_auroc'].min():.3f}; the pipeline's answer over all unlabeled images at least the rule's on "
        f"{held} of {len(d)}, below it beyond the interval on {int((d['pool_all_gain_high'] < 0).sum())}.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the variants whose name matches this regex")
    parser.add_argument(
        "--configfile",
        type=Path,
        default=REPO / "config" / "config.yaml",
        help="the config every variant starts from (its source must be synthetic)",
    )
    parser.add_argument("--cores", default="all")
    parser.add_argument("--scope", choices=["subset", "all"], default="subset", help="the config's pool, or all 17")
    parser.add_argument("--n-images", type=int, default=3400, help="`all`: synthetic images")
    parser.add_argument("--train-images", type=int, default=1200, help="`all`: images SimCLR trains on")
    parser.add_argument("--epochs", type=int, help="SimCLR epochs (`all`: 10 unless given; `subset`: the config's)")
    parser.add_argument("--backbone", help="`subset`: embed.backbone (the config's unless given)")
    parser.add_argument("--retrain", action="store_true", help="`subset`: train again after a library change")
    parser.add_argument(
        "--out", default="generators", help="`subset`: the runs' folder in benchmarks/out/, one per setting compared"
    )
    parser.add_argument(
        "--tables",
        help="write the tables to docs/results/TABLES.{md,tsv} (the default config's own are written without it)",
    )
    args = parser.parse_args()
    base = yaml.safe_load(args.configfile.read_text())
    if args.scope == "all":
        args.epochs = args.epochs or 10
    elif args.epochs:
        base["embed"]["epochs"] = args.epochs
    if args.backbone and args.scope == "subset":
        base["embed"]["backbone"] = args.backbone
    rows = []
    for name, generator in VARIANTS.items():
        if args.only and not re.search(args.only, name):
            continue
        if args.scope == "all":
            root, seconds = run_whole_set(name, generator, args)
        else:
            root, seconds = run_variant(name, generator, base, args.cores, args.retrain, args.out)
        rows.extend(rows_of(name, root, seconds))
        print(f"{name}: done in {seconds / 60:.1f} min", flush=True)
    df = pd.DataFrame(rows)
    text = report(df)
    print(text)
    default = not args.only and args.configfile.resolve() == (REPO / "config" / "config.yaml").resolve()
    default = default and (args.scope == "all" or not (args.epochs or args.backbone))
    if args.tables or default:
        out = REPO / "docs" / "results"
        stem = args.tables or "generator_spread" + ("" if args.scope == "subset" else "_all")
        df.to_csv(out / f"{stem}.tsv", sep="\t", index=False)
        (out / f"{stem}.md").write_text(text + "\n")
        print(f"\ntables: {out / f'{stem}.tsv'}, {out / f'{stem}.md'}")


if __name__ == "__main__":
    main()
