"""Where a benchmark's data comes from: the pipeline itself, run on a config.

The benchmarks read what the workflow writes (images, split, metadata, backbone), built by the
real `snakemake`, so they measure the pipeline rather than a copy of it. The default config's run
is the repository's own; any other config (`--configfile`: a `local` source with its own truth
file, a varied synthetic generator) gets its own folder under benchmarks/out/.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from bps_labeler.labeling.annotations import read_labels, read_truth

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "config" / "config.yaml"


def is_default(configfile: Path) -> bool:
    return configfile.resolve() == DEFAULT_CONFIG.resolve()


def snakemake_command(cores: str = "all") -> list[str]:
    """The venv's snakemake on the repository's workflow, for a run in any folder (`--directory`)."""
    return [
        str(Path(sys.executable).with_name("snakemake")),
        "--cores",
        str(cores),
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
    ]


def build(configfile: Path, targets: list[str], root: Path | None = None, cfg: dict | None = None) -> Path:
    """The workflow folder whose results/ hold `targets`, built if missing.

    `cfg` (a config already read and changed) is written to the folder instead of `configfile`.
    """
    if root is None and cfg is None and is_default(configfile):
        subprocess.run([*snakemake_command(), *targets], cwd=REPO, check=True)
        return REPO
    root = root or REPO / "benchmarks" / "out" / f"pool-{configfile.stem}"
    (root / "config").mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(cfg, sort_keys=False) if cfg is not None else configfile.read_text()
    (root / "config" / "config.yaml").write_text(text)
    subprocess.run([*snakemake_command(), "--directory", str(root), *targets], cwd=root, check=True)
    return root


def truth_file(root: Path, cfg: dict) -> Path:
    """The oracle's truth file of a config, relative paths taken from the workflow folder."""
    path = Path(cfg["annotation"]["oracle"]["truth"])
    path = path if path.is_absolute() else root / path
    if not path.exists():
        raise SystemExit(f"{path}: the config's oracle has no truth file; benchmarks need true labels")
    return path


def rerun_from_training(root: Path, targets: list[str], cores: str, log_name: str) -> float:
    """Training and what follows it again in a finished run folder (seconds): after a change
    Snakemake does not see (the library's code) or to the run's config. By modification times
    only, so older records do not rerun the embedding; the targets go before `--forcerun`,
    which takes every word after it."""
    cmd = [*snakemake_command(cores), "--directory", str(root), *targets]
    cmd += ["--rerun-triggers", "mtime", "--forcerun", "train"]
    start = time.perf_counter()
    with (root / log_name).open("w") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"the pipeline failed; see {root / log_name}")
    return time.perf_counter() - start


def labeled(root: Path) -> set[str]:
    """The images people (here the oracle) labeled in rounds 1 and 2."""
    return {name for r in (1, 2) for name in read_labels(root / "results" / f"round_{r}" / "annotations.json")}


def truth_of(root: Path) -> dict[str, str]:
    return read_truth(root / "resources" / "synthetic" / "truth.csv")


def unlabeled(root: Path) -> pd.DataFrame:
    """Round 2's answers on every image no round trained on, with its truth. The validation images
    count among them: people label them, but only to score the rounds ("no one labeled" in the
    tables means no round's labels)."""
    answers = pd.read_csv(root / "results" / "round_2" / "inference" / "answers.csv")
    answers["truth"] = answers["filename"].map(truth_of(root))
    return answers[~answers["filename"].isin(labeled(root))]


def answers_and_rule(every: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth, the pipeline's answer, the rule's answer) as "is a track", per image of `every`:
    the rule calls every image it does not decide a track (Fe and the other ions hit some)."""
    answer = (every["answer"] == "track").to_numpy()
    return (every["truth"] == "track").to_numpy(), answer, answer | (every["answered_by"] == "model").to_numpy()


def pool_figures(every: pd.DataFrame) -> dict[str, float]:
    """Round 2 on `every` image no one labeled (`unlabeled`; about 900 undecided on the whole set,
    far less noisy than the 60 undecided validation images), and the pipeline's answer over all of
    them beside the rule's."""
    y, answer, rule = answers_and_rule(every)
    model = (every["answered_by"] == "model").to_numpy()
    return {
        "pool_n": int(model.sum()),
        "pool_balanced_accuracy": balanced_accuracy_score(y[model], answer[model]),
        "pool_auroc": roc_auc_score(y[model], every["p_track"].to_numpy()[model]),
        "pool_all_model_and_rule": balanced_accuracy_score(y, answer),
        "pool_all_rule": balanced_accuracy_score(y, rule),
    }
