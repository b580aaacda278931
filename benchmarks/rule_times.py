"""Where a run's time goes: seconds per rule beside the whole run's wall clock.

Reads Snakemake's own record of every job (`.snakemake/metadata/`: rule, start and end of the
job that made each output) and the `benchmark:` files of the heavy rules (`logs/benchmarks/`:
peak memory). With `--run` it first runs the default workflow from nothing (results, logs,
resources and Snakemake's records removed; the label store is left alone) and times it, which is
what `make run` does on a fresh clone after set-up:

    .venv/bin/python benchmarks/rule_times.py --run          # about 4 minutes on 2 cores
    .venv/bin/python benchmarks/rule_times.py                # the last run in this checkout

Prints a Markdown table (rule, jobs, seconds summed over its jobs, the longest job, peak memory)
and the wall clock; jobs of different rules overlap, so the seconds add up to more than it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def run_from_nothing(workdir: Path, cores: int) -> float:
    for folder in ("results", "logs", "resources", ".snakemake"):
        shutil.rmtree(workdir / folder, ignore_errors=True)
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    t = time.perf_counter()
    subprocess.run([snakemake, "--cores", str(cores)], cwd=workdir, check=True, capture_output=True)
    return time.perf_counter() - t


def jobs(workdir: Path) -> pd.DataFrame:
    """One row per job: its rule, start and end (a job with several outputs is one job)."""
    seen: dict[tuple[str, int], tuple[float, float]] = {}
    for path in (workdir / ".snakemake" / "metadata").iterdir():
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if record.get("starttime") and record.get("endtime") and not record.get("incomplete"):
            key = (record["rule"], record["job_hash"])  # each output has a record; one job
            start, end = seen.get(key, (record["starttime"], record["endtime"]))
            seen[key] = (min(start, record["starttime"]), max(end, record["endtime"]))
    return pd.DataFrame([{"rule": r, "start": s, "end": e} for (r, _), (s, e) in seen.items()])


def peak_memory(workdir: Path) -> dict[str, float]:
    """Largest max_rss (MB) per rule from its benchmark files (named after the rule)."""
    peaks: dict[str, float] = defaultdict(float)
    for path in (workdir / "logs" / "benchmarks").rglob("*.tsv"):
        rule = path.parent.name if path.parent.name in ("convert", "download") else path.stem
        row = pd.read_csv(path, sep="\t").iloc[-1]
        peaks[rule] = max(peaks[rule], float(row["max_rss"]))
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=REPO)
    parser.add_argument("--run", action="store_true", help="run the default workflow from nothing first")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the table as TSV")
    args = parser.parse_args()
    timed = run_from_nothing(args.workdir, args.cores) if args.run else None
    df = jobs(args.workdir)
    df["seconds"] = df["end"] - df["start"]
    table = (
        df.groupby("rule")
        .agg(jobs=("seconds", "size"), seconds=("seconds", "sum"), longest=("seconds", "max"), first=("start", "min"))
        .sort_values("first")
        .drop(columns="first")
    )
    peaks = peak_memory(args.workdir)
    table["peak MB"] = [round(peaks[r]) if r in peaks else None for r in table.index]
    wall = df["end"].max() - df["start"].min()
    print("| rule | jobs | seconds (all jobs) | longest job s | peak MB |")
    print("|---|---|---|---|---|")
    for rule, r in table.iterrows():
        peak = "" if r["peak MB"] is None or r["peak MB"] != r["peak MB"] else f"{r['peak MB']:.0f}"
        print(f"| {rule} | {r['jobs']:.0f} | {r['seconds']:.1f} | {r['longest']:.1f} | {peak} |")
    print(f"\nfirst job start to last job end: {wall:.0f} s ({wall / 60:.1f} min)")
    if timed is not None:
        print(f"snakemake --cores {args.cores}, from nothing, wall clock: {timed:.0f} s ({timed / 60:.1f} min)")
    print(f"rule seconds summed: {table['seconds'].sum():.0f} s (jobs overlap on {args.cores} cores)")
    if args.out:
        table.to_csv(args.out, sep="\t")


if __name__ == "__main__":
    main()
