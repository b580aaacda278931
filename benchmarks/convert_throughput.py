"""Images per second for convert on synthetic images, beside this machine's raw limits.

Prints, for the same files in the same run: decode-only (TIFF -> array), encode-only
(array -> JPG in memory), their sum as the raw limit of one core, the same with writing the JPG
bytes to a new file (create, write, rename: what any converter that leaves files pays), the
contrast stretch and the quality measures alone, and the full convert (decode, stretch, quality,
encode, write through a temporary name) with 1 worker and with every core, each as a share of its
limit. The files go to /dev/shm (memory) by default, so that the figures are the CPU's work: on
this machine's disk, creating a file costs from 0.03 to 0.8 ms depending on what the disk did
before (deleted files are discarded in the background), which swamps everything else; give
`--dir benchmarks/out` to measure on the disk the pipeline writes to.

    .venv/bin/python benchmarks/convert_throughput.py [--n-images 4000]
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
from PIL import Image

from bps_labeler.convert import Stretch, convert_shard, levels, quality, read_tiff, to_uint8
from bps_labeler.synthetic import SyntheticSpec, generate


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.0f} images/s  ({seconds:6.2f} s for {n})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=4000)
    memory = Path("/dev/shm")
    default_dir = memory / "bps-convert-benchmark" if memory.is_dir() else Path(__file__).resolve().parent / "out"
    parser.add_argument("--dir", type=Path, default=default_dir)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        raw = Path(tmp) / "raw"
        meta = generate(raw, Path(tmp) / "truth.csv", SyntheticSpec(n_images=args.n_images))
        names = meta["filename"].tolist()
        for name in names:  # warm the page cache so every figure reads from memory
            (raw / name).read_bytes()

        t = time.perf_counter()
        arrays = [read_tiff(raw / n) for n in names]
        decode = time.perf_counter() - t

        t = time.perf_counter()
        stretched = [to_uint8(a, Stretch()) for a in arrays]
        stretch = time.perf_counter() - t

        hists = [levels(a) for a in arrays]  # made once for the stretch; the measures reuse it
        t = time.perf_counter()
        for a, o, h in zip(arrays, stretched, hists):
            quality(a, o, h)
        measures = time.perf_counter() - t

        t = time.perf_counter()
        jpgs = []
        for a in stretched:
            buf = io.BytesIO()
            Image.fromarray(a, mode="L").save(buf, format="JPEG", quality=95)
            jpgs.append(buf.getvalue())
        encode = time.perf_counter() - t

        written = Path(tmp) / "written"
        written.mkdir()
        t = time.perf_counter()
        for name, data in zip(names, jpgs):
            part = written / f".{name}.tmp"
            part.write_bytes(data)
            os.replace(part, written / name)
        write = time.perf_counter() - t

        results = {}
        for workers in sorted({1, cores}):
            out = Path(tmp) / f"jpg_{workers}"
            t = time.perf_counter()
            convert_shard(pd.DataFrame({"filename": names}), 0, 1, raw, out, Stretch(), workers=workers)
            results[workers] = time.perf_counter() - t

    n = len(names)
    raw_limit = decode + encode
    file_limit = raw_limit + write
    print(f"convert benchmark, {n} synthetic images, {cores} cores, files under {args.dir}")
    print(f"  decode only (tifffile)               {rate(n, decode)}")
    print(f"  encode only (Pillow JPEG q95)        {rate(n, encode)}")
    print(f"  write only (new file, rename)        {rate(n, write)}")
    print(f"  raw limit, 1 core (decode + encode)  {rate(n, raw_limit)}")
    print(f"  file limit, 1 core (+ write)         {rate(n, file_limit)}")
    print(f"  stretch only (histogram, LUT)        {rate(n, stretch)}")
    print(f"  quality measures only                {rate(n, measures)}")
    for workers, seconds in results.items():
        per_worker = seconds * workers
        print(
            f"  convert, {workers} worker(s)                 {rate(n, seconds)}  per worker: "
            f"{raw_limit / per_worker:.2f}x the raw limit, {file_limit / per_worker:.2f}x the file limit"
        )
    one = results[1]
    print(f"  quality measures: {measures / one:.0%} of one worker's conversion time")
    if cores > 1:
        print(f"  {cores} workers: {one / results[cores]:.2f}x one worker's rate")


if __name__ == "__main__":
    main()
