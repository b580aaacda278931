"""Wall time and peak memory of `snakemake -n` on the full real meta.csv (77,177 rows).

The plan must not grow with the number of images: conversion is sharded by a hash of the file
name, so the DAG has a fixed number of jobs.

With `--profile slurm` it plans through the SLURM profile (profiles/slurm), as a cluster user
does; no cluster is needed for a dry run.

    .venv/bin/python benchmarks/plan_time.py [--meta ../shared/bps/meta.csv] [--rows 10000 40000]
        [--profile slurm]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]


def plan(meta: pd.DataFrame, target: str, profile: str | None) -> tuple[float, float]:
    """(seconds, peak MiB of the largest snakemake process so far) for one dry run."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        meta.to_csv(work / "data" / "meta.csv", index=False)
        (work / "truth.csv").write_text("filename,label\n")
        cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        cfg["source"] = {"kind": "local", "local": {"path": str(work / "data")}}
        cfg["filter"] = {}
        cfg["annotation"]["oracle"]["truth"] = str(work / "truth.csv")
        (work / "config").mkdir()
        (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
        snakemake = str(Path(sys.executable).with_name("snakemake"))
        cmd = [
            snakemake,
            "-n",
            "--quiet",
            "all",
            "--snakefile",
            str(REPO / "workflow" / "Snakefile"),
            "--directory",
            str(work),
            target,
        ]
        if profile:
            cmd += [
                "--profile",
                str(REPO / "profiles" / profile),
                "--slurm-status-command",
                "squeue",
                "--slurm-no-account",
            ]
        else:
            cmd += ["--cores", "8"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if proc.returncode:
            raise SystemExit(proc.stdout + proc.stderr)
        return seconds, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta", type=Path, default=REPO.parent / "shared" / "bps" / "meta.csv")
    parser.add_argument("--rows", type=int, nargs="*", default=[10_000, 40_000])
    parser.add_argument("--target", default="results/round_2/model.ckpt")
    parser.add_argument("--profile", help="a profile under profiles/ (slurm) instead of --cores 8")
    args = parser.parse_args()
    full = pd.read_csv(args.meta)
    how = f"--profile profiles/{args.profile}" if args.profile else "--cores 8"
    print(f"snakemake -n {how} {args.target}, filter keeps every row")
    for n in [*args.rows, len(full)]:
        seconds, peak = plan(full.head(n), args.target, args.profile)
        print(f"  {n:6d} rows: {seconds:5.2f} s wall, peak {peak:6.0f} MiB")


if __name__ == "__main__":
    main()
