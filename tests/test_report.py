"""`snakemake --report` of the tiny run, opened in a real headless Chromium as a user would look at it."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import ARGS, chromium_or_skip
from workflows import module_folder, snakemake

pytestmark = pytest.mark.workflow

FIGURES = [
    "report/embedding_map.png",
    "report/embedding_map.html",
    "report/picks.png",
    "report/left_out.png",
    "report/confusion.png",
    "metrics.json",
    "selection.json",
]


@pytest.fixture(scope="module")
def report(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory, request) -> Iterator[Path]:
    """The tiny run's report, built in a copy so the shared run stays as the other tests left it."""
    with module_folder(tmp_path_factory, request, "report") as folder:
        work = folder / "wf"
        shutil.copytree(tiny_run, work, symlinks=True)
        maps = [f"results/round_{r}/report/embedding_map.{ext}" for r in (1, 2) for ext in ("png", "html")]
        targets = ["results/report/learning_curve.png", *maps, "results/round_2/inference/readout.csv"]
        targets += ["results/round_2/export/model.pt2"]
        snakemake(work, *targets)
        snakemake(work, "--report", "report.html")
        snakemake(work, "--report", "report.zip")
        yield work


def test_report_files(report):
    for r in (1, 2):
        for name in ("embedding_map", "picks", "left_out", "confusion", "disagreements"):
            png = report / f"results/round_{r}/report/{name}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000, png
    assert (report / "results/report/learning_curve.png").stat().st_size > 10_000
    with zipfile.ZipFile(report / "report.zip") as z:
        names = z.namelist()
    # the zip holds each figure once (stored by content hash) and the report page
    names_per_round = ("embedding_map.png", "embedding_map.html", "picks.png", "left_out.png", "confusion.png")
    names_per_round += ("disagreements.png",)
    for name in (*names_per_round, "selection.json", "metrics.json"):
        assert sum(n.endswith(f"/{name}") for n in names) == 2, (name, names)
    assert sum(n.endswith("/learning_curve.png") for n in names) == 1
    assert sum(n.endswith("/readout.png") for n in names) == 1  # the last round's readout
    assert sum(n.endswith("/readout.csv") for n in names) == 1
    assert sum(n.endswith("/MODEL_CARD.md") for n in names) == 1  # the exported model's card
    assert any(n.endswith("report.html") for n in names)


def test_report_in_a_browser(report):
    browser_path = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(browser_path), args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page: {e}"))
        page.on("requestfailed", lambda r: errors.append(f"request: {r.url}"))
        uri = (report / "report.html").as_uri()
        page.goto(uri)
        # the workflow description, and the result categories
        assert "does a fluorescence image of a mouse nucleus show" in page.inner_text("body")
        for category in ("Learning curve", "Rounds", "Readout"):
            assert page.get_by_text(category, exact=True).count() >= 1, category
        for r in (1, 2):
            page.goto(uri)
            page.get_by_text("Rounds", exact=True).first.click()
            page.get_by_text(f"Round {r}", exact=True).first.click()
            body = page.inner_text("body")
            for figure in FIGURES:
                assert f"results/round_{r}/{figure}" in body, (r, figure)
            # the picks open as a real, decoded picture
            page.locator("tr", has_text=f"results/round_{r}/report/picks.png").locator("a[iconname=eye]").click()
            page.wait_for_timeout(500)
            sizes = page.locator("img").evaluate_all("els => els.map(e => [e.naturalWidth, e.src.slice(0, 15)])")
            assert any(w > 1000 and src.startswith("data:image/png") for w, src in sizes), sizes
        # the interactive map, in the zip's report: every pool image a point; hovering one shows
        # its picture and scores (report.html holds items as data URLs, and Chromium refuses one
        # of this size in a frame: the caption says to use the zip or the file itself)
        with zipfile.ZipFile(report / "report.zip") as z:
            z.extractall(report / "unzipped")
        page.goto(next((report / "unzipped").rglob("report.html")).as_uri())
        page.get_by_text("Rounds", exact=True).first.click()
        page.get_by_text("Round 2", exact=True).first.click()
        page.locator("tr", has_text="results/round_2/report/embedding_map.html").locator("a[iconname=eye]").click()
        frame = page.frame_locator("iframe")
        points = frame.locator(".mark-symbol path")
        points.first.wait_for(timeout=30_000)
        assert points.count() > 100
        points.nth(3).hover(force=True)
        tip = frame.locator("#vg-tooltip-element")
        tip.wait_for(state="visible", timeout=5_000)
        assert "p(track)" in tip.inner_text() and tip.locator("img").count() == 1
        frame.locator("select").select_option("label")  # colour by label: the legend names the categories
        assert "no track" in frame.locator("svg").first.text_content()
        page.goto(uri)
        page.get_by_text("Learning curve", exact=True).first.click()
        page.locator("tr", has_text="learning curve").locator("a[iconname=eye]").click()
        page.wait_for_timeout(500)
        sizes = page.locator("img").evaluate_all("els => els.map(e => [e.naturalWidth, e.src.slice(0, 15)])")
        assert any(w > 500 and src.startswith("data:image/png") for w, src in sizes), sizes
        browser.close()
    assert errors == []
