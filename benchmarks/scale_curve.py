"""Time and peak memory of each heavy step at 600, 6,000 and 60,000 synthetic images.

Each step runs in a process of its own under /usr/bin/time, so its peak resident memory is its
own: conversion (2 workers), embedding (SimCLR, one epoch, on at most `embed.train_images` of
the pool, then every image embedded a chunk at a time), selection (round 1's default config:
the quality thresholds and DIVERSITY over the embeddings), prediction (a classifier fine-tuned
on 50 labels, then the whole pool predicted a chunk at a time) and `snakemake -n` on a meta.csv
of that many rows. One SimCLR epoch instead of the default ten keeps the 60,000-image point
within an hour on 2 cores; the epochs' cost is the sample's size times the epochs, whatever
the pool. Every image of the pool is in it (no filter), so the pool is the set's size.

    .venv/bin/python benchmarks/scale_curve.py [--sizes 600 6000 60000] [--out docs/results/scale_curve.tsv]
    .venv/bin/python benchmarks/scale_curve.py --steps convert      # conversion only, a few minutes

Needs about 4 GB of disk at 60,000 images (under benchmarks/out/scale; removed afterwards).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
STEPS = ("convert", "embed", "select", "predict")


def step(name: str, work: Path) -> None:
    """One step, run inside its own process (`--step`), importing only what it needs (the
    process's start and imports count in its time: PyTorch's alone is about 3 s)."""
    import yaml

    meta = pd.read_csv(work / "raw" / "meta.csv")
    jpgs = work / "jpg"
    if name == "convert":
        from bps_labeler.data.convert import Stretch, convert_shard

        manifest = convert_shard(meta, 0, 1, work / "raw" / "tiffs", jpgs, Stretch(), workers=2)
        manifest.to_csv(work / "manifest.tsv", sep="\t", index=False)
        return
    names = sorted(pd.read_csv(work / "manifest.tsv", sep="\t")["filename"])
    if name == "embed":
        from bps_labeler.embeddings.simclr import EmbedSpec, train_embeddings

        cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["embed"]
        spec = EmbedSpec(**{**cfg, "epochs": 1})
        train_embeddings(jpgs, names, spec, work / "embeddings.csv", work / "backbone.pt", threads=2)
        return
    if name == "select":
        from bps_labeler.embeddings.io import read_embeddings
        from bps_labeler.selection.engine import select
        from bps_labeler.selection.pool import Pool

        cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["selection"][0]
        files, emb = read_embeddings(work / "embeddings.csv")
        manifest = pd.read_csv(work / "manifest.tsv", sep="\t").set_index("filename").loc[files]
        pool = Pool(files, emb, manifest, None, categories=("track", "no track"))
        picked = select(cfg, pool, [])
        (work / "selected.json").write_text(json.dumps(picked))
        return
    if name == "predict":
        from bps_labeler.models.classifier import TrainSpec, train
        from bps_labeler.models.network import predict_proba

        truth = pd.read_csv(work / "truth.csv")
        truth["filename"] = truth["filename"].str.replace(".tif", ".jpg", regex=False)
        labels = dict(zip(truth["filename"], truth["label"]))
        picked = json.loads((work / "selected.json").read_text())
        model = train(
            jpgs,
            {n: labels[n] for n in picked},
            work / "backbone.pt",
            ("track", "no track"),
            TrainSpec(epochs=1),
            work / "model.ckpt",
            threads=2,
        )
        t = time.perf_counter()
        probs = predict_proba(model, jpgs, names, threads=2)
        print(f"predict only: {time.perf_counter() - t:.1f} s for {len(probs)} images", file=sys.stderr)
        return
    raise SystemExit(f"unknown step {name}")


def plan_command(work: Path, meta: pd.DataFrame) -> list[str]:
    """`snakemake -n` to round 2 on a working folder whose local source is this meta.csv."""
    import yaml

    plan_dir = work / "plan"
    (plan_dir / "config").mkdir(parents=True)
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["source"] = {"kind": "local", "local": {"path": str(work / "raw")}}
    cfg["filter"] = {}
    cfg["annotation"]["oracle"]["truth"] = str(work / "truth.csv")
    (plan_dir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    workflow = ["--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(plan_dir)]
    return [snakemake, "-n", "--quiet", "all", *workflow, "--cores", "8", "results/round_2/model.ckpt"]


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(seconds, peak resident MB, stderr) of a command run under /usr/bin/time."""
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %e %M", *cmd], capture_output=True, text=True, check=False, cwd=REPO
    )
    last = [line for line in proc.stderr.splitlines() if line.startswith("TIME ")]
    if proc.returncode != 0 or not last:
        raise SystemExit(f"{cmd} failed:\n{proc.stderr[-3000:]}")
    seconds, kb = last[-1].split()[1:]
    return float(seconds), int(kb) / 1024, proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[600, 6000, 60000])
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS), help="the steps to time")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the images under benchmarks/out/scale")
    args = parser.parse_args()
    if args.step:
        step(args.step, args.work)
        return
    from bps_labeler.data.synthetic import SyntheticSpec, generate

    rows = []
    for n in args.sizes:
        work = REPO / "benchmarks" / "out" / "scale" / str(n)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        t = time.perf_counter()
        meta = generate(work / "raw", work / "truth.csv", SyntheticSpec(n_images=n), work / "raw" / "tiffs", workers=2)
        print(f"{n}: synthesized in {time.perf_counter() - t:.0f} s", flush=True)
        for name in args.steps:
            seconds, mb, err = timed([sys.executable, __file__, "--step", name, "--work", str(work)])
            extra = next((line for line in err.splitlines() if line.startswith("predict only")), "")
            rows.append({"images": n, "step": name, "seconds": round(seconds, 1), "peak MB": round(mb)})
            print(f"{n}: {name} {seconds:.1f} s, peak {mb:.0f} MB {extra}", flush=True)
            if extra:  # the predict step also fine-tunes a classifier first: the pass alone
                alone = float(extra.split(":")[1].split()[0])
                rows.append({"images": n, "step": "predict, the pass alone", "seconds": alone, "peak MB": None})
        if args.steps == list(STEPS):
            seconds, mb, _ = timed(plan_command(work, meta))
            rows.append({"images": n, "step": "snakemake -n", "seconds": round(seconds, 1), "peak MB": round(mb)})
            print(f"{n}: snakemake -n {seconds:.1f} s, peak {mb:.0f} MB", flush=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    table = pd.DataFrame(rows)
    order = [*STEPS, "predict, the pass alone", "snakemake -n"]
    wide = table.pivot(index="step", columns="images", values=["seconds", "peak MB"])
    wide = wide.reindex([step for step in order if step in wide.index])
    print(wide.to_string())
    if args.out:
        table.to_csv(args.out, sep="\t", index=False)


if __name__ == "__main__":
    main()
