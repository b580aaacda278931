"""Images per second for convert on synthetic images, beside this machine's raw limits.

Prints, for the same files in the same run: decode-only (TIFF -> array), encode-only
(array -> JPG in memory), their sum as the raw limit of one core, the same with writing the JPG
bytes to a new file (what any converter that leaves files pays), the contrast stretch and the
quality measures alone, and the full convert (decode, stretch, quality, encode, write) with 1
worker and with every core, each as a share of its limit. With every core busy each one is
slower (shared caches and memory; on a virtual machine, its neighbours), so the limit for
several workers is measured with as many processes timing the same parts at once.

The parts are timed image by image inside one loop that keeps nothing, as a conversion runs
(holding thousands of decoded arrays made decoding look slower than it is), and every figure
is the best of `--repeats` rounds, so that a busy moment of the machine counts against neither
side. The compiled loops (pixel_loops) are loaded before timing; their one-time cost is printed
apart. The files go to /dev/shm (memory) by default, so that the figures are the CPU's work: on
this machine's disk, creating a file costs from 0.03 to 0.8 ms depending on what the disk did
before (deleted files are discarded in the background), which swamps everything else; give
`--dir benchmarks/out` to measure on the disk the pipeline writes to.

    .venv/bin/python benchmarks/convert_throughput.py [--n-images 4000] [--repeats 3] [--save FILE]

`--save docs/results/convert_throughput.txt` keeps the printed figures (docs/benchmarks.md quotes them).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
from PIL import Image

from bps_labeler.data.convert import Stretch, convert_shard, levels, quality, read_tiff, to_uint8
from bps_labeler.data.meta import jpg_name
from bps_labeler.data.synthetic import SyntheticSpec, generate
from bps_labeler.utils.files import write_new

PARTS = ("decode", "stretch", "measures", "encode", "write")


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.0f} images/s  ({seconds:6.2f} s for {n})"


def timed_parts(names: list[str], raw: Path, out: Path) -> dict[str, float]:
    """Seconds spent in each part of a conversion, image by image, keeping no image."""
    spent = dict.fromkeys(PARTS, 0.0)
    clock = time.perf_counter
    out.mkdir()
    for name in names:
        t0 = clock()
        arr = read_tiff(raw / name)
        t1 = clock()
        hist = levels(arr)
        img = to_uint8(arr, Stretch(), hist)
        t2 = clock()
        quality(arr, img, hist)
        t3 = clock()
        jpg = io.BytesIO()
        Image.fromarray(img).save(jpg, format="JPEG", quality=95)
        t4 = clock()
        write_new(out / jpg_name(name), jpg.getbuffer())
        t5 = clock()
        for part, seconds in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            spent[part] += seconds
    shutil.rmtree(out)
    return spent


def _timed_parts_alone(job: tuple[list[str], Path, Path]) -> dict[str, float]:
    return timed_parts(*job)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    memory = Path("/dev/shm")
    default_dir = memory / "bps-convert-benchmark" if memory.is_dir() else Path(__file__).resolve().parent / "out"
    parser.add_argument("--dir", type=Path, default=default_dir)
    parser.add_argument("--save", type=Path, help="also write the figures to this file")
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
        timed_parts(names[:1], raw, Path(tmp) / "load")
        load = time.perf_counter() - t

        best = dict.fromkeys(PARTS, float("inf"))
        busy = float("inf")  # decode + encode seconds, summed over processes, every core busy
        results = dict.fromkeys(sorted({1, cores}), float("inf"))
        for _ in range(args.repeats):
            for part, seconds in timed_parts(names, raw, Path(tmp) / "parts").items():
                best[part] = min(best[part], seconds)
            if cores > 1:
                jobs = [(names[i::cores], raw, Path(tmp) / f"parts_{i}") for i in range(cores)]
                with ProcessPoolExecutor(cores) as pool:
                    spent = list(pool.map(_timed_parts_alone, jobs))
                busy = min(busy, sum(s["decode"] + s["encode"] for s in spent))
            for workers in results:
                out = Path(tmp) / f"jpg_{workers}"
                t = time.perf_counter()
                convert_shard(pd.DataFrame({"filename": names}), 0, 1, raw, out, Stretch(), workers=workers)
                results[workers] = min(results[workers], time.perf_counter() - t)
                shutil.rmtree(out)

    n = len(names)
    lines: list[str] = []
    say = lines.append
    raw_limit = best["decode"] + best["encode"]
    file_limit = raw_limit + best["write"]
    say(
        f"convert benchmark, {n} synthetic images, {cores} cores, files under {args.dir}, best of {args.repeats} rounds"
    )
    say(f"  decode only (tifffile)               {rate(n, best['decode'])}")
    say(f"  encode only (Pillow JPEG q95)        {rate(n, best['encode'])}")
    say(f"  write only (new file)                {rate(n, best['write'])}")
    say(f"  raw limit, 1 core (decode + encode)  {rate(n, raw_limit)}")
    say(f"  file limit, 1 core (+ write)         {rate(n, file_limit)}")
    say(f"  stretch only (histogram, stretch)    {rate(n, best['stretch'])}")
    say(f"  quality measures only                {rate(n, best['measures'])}")
    if cores > 1:
        say(f"  raw limit, per core, {cores} cores busy    {rate(n, busy)}")
    for workers, seconds in results.items():
        per_worker = seconds * workers
        line = (
            f"  convert, {workers} worker(s)                 {rate(n, seconds)}  per worker: "
            f"{raw_limit / per_worker:.2f}x the raw limit, {file_limit / per_worker:.2f}x the file limit"
        )
        if workers > 1:
            line += f", {busy / per_worker:.2f}x the raw limit with {workers} cores busy"
        say(line)
    one = results[1]
    say(f"  quality measures: {best['measures'] / one:.0%} of one worker's conversion time")
    if cores > 1:
        say(f"  {cores} workers: {one / results[cores]:.2f}x one worker's rate")
    say(f"  once per process: loading the compiled loops {load:.2f} s (compiling them, first run only: more)")

    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.save:
        args.save.write_text(f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}\n{text}")


if __name__ == "__main__":
    main()
