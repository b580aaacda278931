"""Build a finished run's Snakemake report as report.html and report.zip; time it, size it, open it.

`benchmarks/report_scale.py` times the pictures alone; this is what a user gets from the whole
report: `snakemake --report` for an existing run (its working folder and config files), the size
of both forms, and the seconds headless Chromium (Debian's, as in the report test) takes to open
each and show round 2's picks, with the page's console errors counted. Run it on the default run
and on the 8,866-image run of docs/benchmarks.md:

    .venv/bin/python benchmarks/report_build.py                       # this checkout's make run
    .venv/bin/python benchmarks/report_build.py --workdir /tmp/scale --configfile scale.yaml

Prints one table row per form; `--out` also writes them as TSV.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from browser import ARGS, chromium  # noqa: E402


def build(workdir: Path, configfiles: list[str], out: Path) -> float:
    cmd = [str(Path(sys.executable).with_name("snakemake")), "--snakefile", str(REPO / "workflow" / "Snakefile")]
    cmd += ["--directory", str(workdir), "--report", str(out)]
    if configfiles:
        cmd += ["--configfile", *configfiles]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"snakemake --report failed:\n{proc.stderr[-3000:]}")
    return seconds


def open_in_chromium(page_path: Path) -> tuple[float, float, int]:
    """Seconds to the report's first view, seconds to round 2's picks, console errors."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium()), args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        t = time.perf_counter()
        page.goto(page_path.resolve().as_uri(), timeout=300_000)
        page.get_by_text("Rounds", exact=True).first.wait_for(timeout=300_000)
        shown = time.perf_counter() - t
        page.get_by_text("Rounds", exact=True).first.click()
        page.get_by_text("Round 2", exact=True).first.click()
        page.locator("tr", has_text="results/round_2/report/picks.png").locator("a[iconname=eye]").click()
        # the picks gallery, decoded: the only picture that wide (report.html holds it as a data URL)
        page.wait_for_function(
            "() => [...document.images].some(i => i.complete && i.naturalWidth >= 1000)", timeout=300_000
        )
        picks = time.perf_counter() - t
        browser.close()
    return shown, picks, len(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=REPO)
    parser.add_argument("--configfile", nargs="*", default=[])
    parser.add_argument("--out", type=Path, help="also write the rows as TSV")
    args = parser.parse_args()
    meta = args.workdir / "results" / "data" / "filtered_meta.csv"
    pool = sum(1 for _ in meta.open()) - 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for form in ("report.html", "report.zip"):
            out = Path(tmp) / form
            seconds = build(args.workdir, args.configfile, out)
            page = out
            if form.endswith(".zip"):
                with zipfile.ZipFile(out) as z:
                    z.extractall(Path(tmp) / "unzipped")
                page = next((Path(tmp) / "unzipped").glob("*/report.html"))
            shown, picks, errors = open_in_chromium(page)
            rows.append(
                {
                    "images in the filtered set": pool,
                    "form": form,
                    "build s": round(seconds, 1),
                    "size MB": round(out.stat().st_size / 1e6, 1),
                    "Chromium: first view s": round(shown, 1),
                    "Chromium: round 2 picks s": round(picks, 1),
                    "console errors": errors,
                }
            )
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for r in rows:
        print("| " + " | ".join(str(v) for v in r.values()) + " |")
    if args.out:
        with args.out.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    main()
