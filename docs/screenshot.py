"""Take the screenshots of docs/labeling.md and docs/report.md in headless Chromium: Label Studio, the report.

Not part of the pipeline or its tests: run it by hand, with Playwright installed beside Debian's
chromium (`pip install playwright`; no browser download needed). Label Studio, after `make
labelstudio` and a round of `snakemake` with `annotation.backend: labelstudio`:

    python docs/screenshot.py --url http://127.0.0.1:8080 --project 1 --task 1 --out docs/labelstudio-labeling.png

The report's round-2 picks and interactive map, after `make run`, `snakemake --report report.zip`
and unpacking it (the map opens inside the zip's report; report.html is one file, and browsers
refuse a page that big inside it):

    python docs/screenshot.py --report report/report.html --out docs/report-picks.png
    python docs/screenshot.py --report report/report.html --item embedding_map.html --out docs/report-map.png
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

# the same Chromium and flags as the report test
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import ARGS, chromium  # noqa: E402


def labelstudio(page, url: str, project: int, task: int, out: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/user/login/")
    page.fill("input[name=email]", os.environ["LABEL_STUDIO_USERNAME"])
    page.fill("input[name=password]", os.environ["LABEL_STUDIO_PASSWORD"])
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{url}/projects/{project}/data?task={task}")
    page.wait_for_selector("img", timeout=60_000)
    page.wait_for_timeout(4000)
    page.screenshot(path=out)


def report(page, path: Path, item: str, out: str) -> None:  # type: ignore[no-untyped-def]
    """Rounds > Round 2 > the item, opened as the report test opens it (the map with a tooltip)."""
    page.goto(path.resolve().as_uri())
    page.get_by_text("Rounds", exact=True).first.click()
    page.get_by_text("Round 2", exact=True).first.click()
    page.locator("tr", has_text=f"results/round_2/report/{item}").locator("a[iconname=eye]").click()
    page.wait_for_timeout(1000)
    if item.endswith(".html"):
        points = page.frame_locator("iframe").locator(".mark-symbol path")
        points.first.wait_for(timeout=30_000)
        # a round-2 pick near the middle of the list: its tooltip shows a picked image
        points.nth(points.count() - 40).hover(force=True)
        page.wait_for_timeout(800)
    page.screenshot(path=out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="Label Studio")
    parser.add_argument("--project", type=int)
    parser.add_argument("--task", type=int)
    parser.add_argument("--report", type=Path, help="a report built by snakemake --report (report.zip, unpacked)")
    parser.add_argument("--item", default="picks.png", help="the round-2 report item to show")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if not args.report and not (args.url and args.project and args.task):
        parser.error("give --report, or --url, --project and --task")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium()), args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        if args.report:
            report(page, args.report, args.item, args.out)
        else:
            labelstudio(page, args.url, args.project, args.task, args.out)
        browser.close()


if __name__ == "__main__":
    main()
