"""Images per second for convert on synthetic images, beside this machine's raw limits.

Prints, for the same files in the same run: decode-only (TIFF -> array), encode-only
(array -> JPG in memory), their sum as the raw limit of one core, the contrast stretch alone, and
the full convert (decode, stretch, encode, write through a temporary name) with 1 worker and with
every core.

    .venv/bin/python benchmarks/convert_throughput.py [--n-images 2000]
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

from bps_labeler.convert import Stretch, convert_shard, read_tiff, to_uint8
from bps_labeler.synthetic import SyntheticSpec, generate


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.0f} images/s  ({seconds:6.2f} s for {n})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=2000)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
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

        t = time.perf_counter()
        for a in stretched:
            Image.fromarray(a, mode="L").save(io.BytesIO(), format="JPEG", quality=95)
        encode = time.perf_counter() - t

        results = {}
        for workers in sorted({1, cores}):
            out = Path(tmp) / f"jpg_{workers}"
            t = time.perf_counter()
            convert_shard(pd.DataFrame({"filename": names}), 0, 1, raw, out, Stretch(), workers=workers)
            results[workers] = time.perf_counter() - t

    print(f"convert benchmark, {args.n_images} synthetic images, {cores} cores")
    print(f"  decode only (tifffile)          {rate(len(names), decode)}")
    print(f"  encode only (Pillow JPEG q95)   {rate(len(names), encode)}")
    print(f"  raw limit, 1 core (1/(1/d+1/e)) {rate(len(names), decode + encode)}")
    print(f"  stretch only (percentile LUT)   {rate(len(names), stretch)}")
    for workers, seconds in results.items():
        print(f"  convert, {workers} worker(s)            {rate(len(names), seconds)}")


if __name__ == "__main__":
    main()
