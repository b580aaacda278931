"""Where a run's time goes: seconds per rule beside the whole run's wall clock.

Reads Snakemake's own record of every job (`.snakemake/metadata/`: rule, start and end of the
job that made each output) and the `benchmark:` files of the heavy rules (`logs/benchmarks/`:
peak memory). With `--run` it first runs the default workflow from nothing (results, logs,
resources and Snakemake's records removed; the label store is left alone) and times it, which is
what `make run` does on a fresh clone after set-up:

    .venv/bin/python benchmarks/rule_times.py --run          # about 6 minutes on 2 cores
    .venv/bin/python benchmarks/rule_times.py                # the last run in this checkout

Another pool in a folder of its own (the tutorial's 8,866 images, issue 30): `--workdir` gets the
default config/config.yaml, `--configfile` goes on top of it, `--target` is what to make:

    .venv/bin/python benchmarks/rule_times.py --run --workdir benchmarks/out/pool_8866 \
        --configfile benchmarks/configs/pool_8866.yaml --target results/round_2/model.ckpt

Prints a Markdown table (rule, jobs, seconds summed over its jobs, the longest job, peak memory)
and the wall clock; jobs of different rules overlap, so the seconds add up to more than it. With
`--run` also the peak memory of the whole run (every process of it at once, sampled twice a
second), and each round's undecided validation figures beside the rule's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
import psutil
from pools import snakemake_command

REPO = Path(__file__).resolve().parents[1]


def run_from_nothing(workdir: Path, cores: int, configfiles: list[Path], target: list[str]) -> tuple[float, float]:
    """Run the workflow in `workdir` from nothing; (seconds, peak MB of all its processes at once)."""
    for folder in ("results", "logs", "resources", ".snakemake"):
        shutil.rmtree(workdir / folder, ignore_errors=True)
    if not (workdir / "config" / "config.yaml").exists():
        (workdir / "config").mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "config" / "config.yaml", workdir / "config" / "config.yaml")
    cmd = [*snakemake_command(str(cores)), "--directory", str(workdir), *target]
    cmd += ["--configfile", *map(str, configfiles)] if configfiles else []
    t = time.perf_counter()
    with (workdir / "snakemake.log").open("w") as log:
        # from the repository, as `make run` starts: Snakemake loads profiles/default from there
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, tree_rss_mb(proc.pid))
            time.sleep(0.5)
    if proc.returncode:
        raise SystemExit(f"the run failed; see {workdir / 'snakemake.log'}")
    return time.perf_counter() - t, peak


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants together, in MB (0 once it is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


def undecided_figures(workdir: Path) -> list[str]:
    """Each round's undecided validation images: the model's balanced accuracy (AUROC) beside the rule's."""
    lines = []
    for path in sorted((workdir / "results").glob("round_*/metrics.json")):
        m = json.loads(path.read_text())["baselines"]["undecided"]
        model, rule = m["model"], m["metadata_rule"]
        lines.append(
            f"{path.parent.name}: undecided validation images {model['n_val']}: model balanced accuracy "
            f"{model['balanced_accuracy']:.3f} (AUROC {model['auroc']:.3f}), rule {rule['balanced_accuracy']:.3f}"
        )
    return lines


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
    parser.add_argument("--configfile", type=Path, nargs="*", default=[], help="on top of config/config.yaml")
    parser.add_argument("--target", nargs="*", default=[], help="what to make (the Snakefile's default: all)")
    parser.add_argument("--out", type=Path, help="also write the table as TSV")
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()
    timed, peak_all = None, None
    if args.run:
        timed, peak_all = run_from_nothing(args.workdir, args.cores, args.configfile, args.target)
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
        print(f"peak memory of the whole run (all its processes at once): {peak_all:.0f} MB")
    for line in undecided_figures(args.workdir):
        print(line)
    print(f"rule seconds summed: {table['seconds'].sum():.0f} s (jobs overlap on {args.cores} cores)")
    if args.out:
        table.to_csv(args.out, sep="\t")


if __name__ == "__main__":
    main()
