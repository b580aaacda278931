"""What each experiment tracker adds to a run's time (docs/tracking.md).

Runs the workflow from nothing to round 2 and its report pictures, once without tracking and once
per tracker (W&B offline, the local MLflow store, DVCLive) and with all three, each in a fresh
folder, one after another, and prints per variant: the wall time, the summed time of the jobs
that log (embed, select, train, from their `benchmark:` files) and the difference to the untracked
run. Also checks that every variant's selections and metrics are those of the untracked run.
Writes docs/results/tracking_overhead_<config>.{tsv,md}.

    .venv/bin/python benchmarks/tracking_overhead.py [--config tiny|default] [--only VARIANT ...]

The tiny config is the test suite's (680 images, SimCLR of one epoch at 32 px); the default is
`make run`'s config/config.yaml.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from workflows import tiny_config  # noqa: E402

VARIANTS = {"none": ["csv"], "wandb": ["csv", "wandb"], "mlflow": ["csv", "mlflow"], "dvclive": ["csv", "dvclive"]}
VARIANTS["all three"] = ["csv", "wandb", "mlflow", "dvclive"]
TARGETS = ["results/round_2/model.ckpt", "results/report/learning_curve.png"]
TARGETS += [f"results/round_{r}/report/picks.png" for r in (1, 2)]
SAME = ["results/round_1/selection.json", "results/round_2/selection.json"]
SAME += ["results/round_1/metrics.json", "results/round_2/metrics.json"]


def run(config: dict, loggers: list[str], workdir: Path) -> dict:
    (workdir / "config").mkdir(parents=True)
    cfg = {**config, "tracking": {"loggers": loggers, "wandb_mode": "offline"}}
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    cmd = [snakemake, "--snakefile", str(REPO / "workflow" / "Snakefile"), "-d", str(workdir), "--cores", "2"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "MLFLOW_"))}
    start = time.perf_counter()
    subprocess.run([*cmd, *TARGETS], check=True, capture_output=True, env=env)
    wall = time.perf_counter() - start
    jobs = {}
    for tsv in (workdir / "logs" / "benchmarks").rglob("*.tsv"):
        rule = tsv.stem if tsv.parent.name.startswith(("round_", "benchmarks")) else tsv.parent.name
        if rule in ("embed", "select", "train"):
            jobs[rule] = jobs.get(rule, 0.0) + float(pd.read_csv(tsv, sep="\t")["s"].iloc[0])
    return {"wall_s": wall, **{f"{k}_s": v for k, v in sorted(jobs.items())}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=["tiny", "default"], default="tiny")
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "tracking_overhead")
    args = parser.parse_args()
    config = tiny_config() if args.config == "tiny" else yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    variants = ["none", *[v for v in args.only if v != "none"]]
    rows, folders = [], {}
    for name in variants:
        workdir = args.out / args.config / name.replace(" ", "_")
        subprocess.run(["rm", "-rf", str(workdir)], check=True)
        row = {"variant": name, **run(config, VARIANTS[name], workdir)}
        folders[name] = workdir
        row["same_results"] = all((workdir / f).read_bytes() == (folders["none"] / f).read_bytes() for f in SAME)
        rows.append(row)
        print(row, flush=True)
    table = pd.DataFrame(rows)
    base = table.iloc[0]
    table["added_s"] = table["wall_s"] - base["wall_s"]
    table = table.round(1)
    results = REPO / "docs" / "results"
    table.to_csv(results / f"tracking_overhead_{args.config}.tsv", sep="\t", index=False)
    lines = [
        f"# What each tracker adds to a run ({args.config} config)",
        "",
        f"`benchmarks/tracking_overhead.py --config {args.config}`, {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} cores, each variant from nothing to round 2 and its report pictures, one after "
        "another. Seconds: the run's wall time, and the summed `benchmark:` times of the jobs that log "
        "(embed, both selects, both trains); added = wall time minus the untracked run's. "
        "same_results: both rounds' selections and metrics byte-identical to the untracked run.",
        "",
        table.to_markdown(index=False),
        "",
    ]
    (results / f"tracking_overhead_{args.config}.md").write_text("\n".join(lines))
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
