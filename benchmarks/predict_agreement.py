"""Does an exported model give the pipeline's probabilities? `bps-labeler predict` on a run's
validation TIFFs, against what the train rule computed on the pipeline's own JPGs.

Exports the round (its Snakemake target), copies the validation images' raw TIFFs out of the
run, runs `bps-labeler predict` on them as a user would (the conversion included), and prints the
largest difference of the probabilities and the answers that differ, with the time per image.

    .venv/bin/python benchmarks/predict_agreement.py benchmarks/out/readout/built-in-default [--round 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bps_labeler.data.meta import jpg_name

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run's folder")
    parser.add_argument("--round", type=int, default=2)
    args = parser.parse_args()
    run, r = args.run.resolve(), args.round
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    export = f"results/round_{r}/export/model.pt2"
    cmd = [snakemake, "--snakefile", str(REPO / "workflow/Snakefile"), "--directory", str(run), "--cores", "2"]
    subprocess.run([*cmd, export], check=True, capture_output=True)
    validation = pd.read_csv(run / f"results/round_{r}/validation.csv").set_index("filename")
    tiffs = {jpg_name(p.name): p for p in (run / "resources").rglob("*.tif")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tiffs"
        folder.mkdir()
        for name in validation.index:
            shutil.copy(tiffs[name], folder / tiffs[name].name)
        out = Path(tmp) / "answers.csv"
        start = time.perf_counter()
        bps = str(Path(sys.executable).with_name("bps-labeler"))
        model = str(run / f"results/round_{r}/export")
        subprocess.run([bps, "predict", model, str(folder), "-o", str(out)], check=True)
        seconds = time.perf_counter() - start
        answers = pd.read_csv(out).set_index("filename").loc[validation.index]
    columns = [c for c in validation.columns if c.startswith("p_")]
    difference = np.abs(answers[columns].to_numpy() - validation[columns].to_numpy()).max()
    differ = int((answers["answer"] != validation["answer"]).sum())
    print(
        f"{run.name}, round {r}: {len(validation)} validation TIFFs; largest difference of the probabilities "
        f"{difference:.2e}; answers that differ: {differ}; predict {seconds:.1f} s in all "
        f"({seconds / len(validation) * 1000:.0f} ms an image, conversion and start included)"
    )


if __name__ == "__main__":
    main()
