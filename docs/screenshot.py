"""Take the README's Label Studio screenshot from a real server, in headless Chromium.

Not part of the pipeline or its tests: run it by hand after `make labelstudio` and a round of
`snakemake` with `annotation.backend: labelstudio`, with Playwright installed beside Debian's
chromium (`pip install playwright`; no browser download needed):

    python docs/screenshot.py --url http://127.0.0.1:8080 --task 1 --out docs/labelstudio-labeling.png
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--project", type=int, required=True)
    parser.add_argument("--task", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium()),
            args=ARGS,
        )
        page = browser.new_page(viewport={"width": 1400, "height": 850})
        page.goto(f"{args.url}/user/login/")
        page.fill("input[name=email]", os.environ["LABEL_STUDIO_USERNAME"])
        page.fill("input[name=password]", os.environ["LABEL_STUDIO_PASSWORD"])
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.goto(f"{args.url}/projects/{args.project}/data?task={args.task}")
        page.wait_for_selector("img", timeout=60_000)
        page.wait_for_timeout(4000)
        page.screenshot(path=args.out)
        browser.close()


if __name__ == "__main__":
    main()
