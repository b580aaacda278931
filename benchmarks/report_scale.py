"""Time and size of a round's report pictures at the default pool and at the tutorial's real scale.

The report's pictures are the only part whose cost grows with the pool: the embedding map (t-SNE
of up to 5,000 images, every pick included, as a PNG and as an interactive page with a thumbnail
per point) and the galleries (a fixed 50 picks, at most 40
left-out images). This draws them for the default config's pool (this checkout's results/, run
`make run` first) and for a pool of 8,866 images (the old tutorial's real subset), whose
embeddings are the default pool's resampled with noise, so no 9,000-image SimCLR run is needed.
Prints the seconds per picture and the PNG sizes; the report's HTML size is printed for the
default run when report.html exists.

    .venv/bin/python benchmarks/report_scale.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bps_labeler.data.lightly_metadata import metadata_table
from bps_labeler.embeddings.io import read_embeddings
from bps_labeler.evaluation.learning_curve import learning_curve
from bps_labeler.report.figures import embedding_map_figure, gallery_figure, learning_curve_figure, map_coordinates
from bps_labeler.report.interactive_map import map_records, spec, write_page

REPO = Path(__file__).resolve().parents[1]


def draw(
    names: list[str], emb: np.ndarray, picked: dict[str, int], particle: pd.Series, image_dir: Path, out: Path
) -> dict:
    t = time.perf_counter()
    coords = map_coordinates(names, emb, set(picked), seed=0)
    t_map = time.perf_counter() - t
    entropy = pd.Series(np.random.default_rng(0).random(len(names)), index=names)
    t = time.perf_counter()
    embedding_map_figure(coords, picked, {}, particle, entropy, 2, out / "map.png")
    t_draw = time.perf_counter() - t
    t = time.perf_counter()
    records = map_records(coords, picked, {}, {}, particle, 1 - entropy, entropy, image_dir)
    write_page(spec(records, "map"), out / "map.html")
    t_page = time.perf_counter() - t
    return {
        "pool": len(names),
        "map points": len(coords),
        "t-SNE s": round(t_map, 1),
        "draw map s": round(t_draw, 1),
        "map PNG kB": round((out / "map.png").stat().st_size / 1e3),
        "interactive page s": round(t_page, 1),
        "interactive page MB": round((out / "map.html").stat().st_size / 1e6, 1),
    }


def main() -> None:
    results = REPO / "results"
    names, emb = read_embeddings(results / "embeddings" / "embeddings.csv")
    meta = metadata_table(results / "data" / "metadata")
    sel = json.loads((results / "round_2" / "selection.json").read_text())
    picked = {s["filename"]: 2 for s in sel["selected"]}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        images = results / "data" / "images"
        rows.append(draw(names, emb, picked, meta["particle_type"], images, out))
        rng = np.random.default_rng(0)
        idx = rng.integers(0, len(names), 8866)
        big_names = [f"s{i:05d}_{names[j]}" for i, j in enumerate(idx)]
        big_emb = emb[idx] + rng.normal(0, 0.05, (len(idx), emb.shape[1]))
        big_particle = pd.Series(meta["particle_type"].reindex([names[j] for j in idx]).to_numpy(), index=big_names)
        big_picked = {big_names[i]: 2 for i in range(50)}
        big_images = out / "big_images"  # each resampled image is a link to the one it copies
        big_images.mkdir()
        for big, j in zip(big_names, idx):
            (big_images / big).symlink_to(images / names[j])
        rows.append(draw(big_names, big_emb, big_picked, big_particle, big_images, out))
        t = time.perf_counter()
        items = [
            {"filename": s["filename"], "caption": [s["filename"][:20], "x", "y", "z", "w"]} for s in sel["selected"]
        ]
        gallery_figure(items, results / "data" / "images", "picks", out / "picks.png")
        t_gallery = time.perf_counter() - t
        t = time.perf_counter()
        learning_curve_figure(
            learning_curve([results / f"round_{r}" / "metrics.json" for r in (1, 2)]), out / "curve.png"
        )
        t_curve = time.perf_counter() - t
        print(pd.DataFrame(rows).to_string(index=False))
        print(
            f"gallery of 50 picks: {t_gallery:.1f} s, {(out / 'picks.png').stat().st_size / 1e3:.0f} kB "
            "(the same at any pool size)"
        )
        print(f"learning curve: {t_curve:.1f} s")
    report = REPO / "report.html"
    if report.exists():
        print(f"report.html of this checkout's run: {report.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
