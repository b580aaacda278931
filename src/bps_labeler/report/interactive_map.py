"""The embedding map as an interactive page: hover a point to see the image and its scores.

Like Lightly's embedding view: the pool in two dimensions (the same t-SNE as the PNG map), coloured
by a choice of round picked, label, particle type or the model's uncertainty, and a tooltip with
the thumbnail, the condition, the label and the model's probability. The page is a Vega-Lite chart
whose JavaScript (Vega, Vega-Lite, vega-embed) is inlined from the copies Snakemake itself ships
for its report, so it opens without a network, inside the report or on its own.
"""

from __future__ import annotations

import base64
import io
import json
from importlib import resources
from pathlib import Path

import pandas as pd
from PIL import Image

#: Thumbnail side in the tooltip, pixels; about 1.5 kB an image as JPEG.
THUMB = 64
#: What the points can be coloured by: a select box above the map.
COLOURINGS = ("round picked", "label", "particle type", "uncertainty")


def _snakemake_asset(name: str) -> str:
    """A JavaScript file from Snakemake's own report assets (installed with Snakemake)."""
    return resources.files("snakemake").joinpath("assets", "data", name, f"{name}.js").read_text()


def _thumbnail(path: Path) -> str:
    with Image.open(path) as im:
        im = im.convert("L")
        im.thumbnail((THUMB, THUMB))
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def map_records(
    coords: pd.DataFrame,
    picked_round: dict[str, int],
    labels: dict[str, str],
    conditions: dict[str, str],
    particle: pd.Series,
    track_probability: pd.Series,
    uncertainty: pd.Series,
    image_dir: Path,
) -> list[dict]:
    """One record per point: position, the four colourings, the tooltip's fields and thumbnail."""
    records = []
    for name, (x, y) in coords[["x", "y"]].iterrows():
        u = float(uncertainty.get(name, float("nan")))
        records.append(
            {
                "x": round(float(x), 3),
                "y": round(float(y), 3),
                "file": name,
                "condition": conditions.get(name, ""),
                "round picked": f"round {picked_round[name]}" if name in picked_round else "not picked",
                "label": labels.get(name, "unlabeled"),
                "particle type": str(particle.get(name, "?")),
                # bands, so that every colouring is a legend of a few classes
                "uncertainty": "?" if u != u else f"{min(int(u * 5), 4) / 5:.1f}-{min(int(u * 5), 4) / 5 + 0.2:.1f}",
                "p(track)": round(float(track_probability.get(name, float("nan"))), 3),
                "entropy": round(u, 3),
                "image": _thumbnail(image_dir / name),
            }
        )
    return records


def spec(records: list[dict], title: str) -> dict:
    """The Vega-Lite chart: a select box chooses the colouring, the tooltip shows the image."""
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "width": 700,
        "height": 560,
        "data": {"values": records},
        "params": [
            {
                "name": "colour_by",
                "value": COLOURINGS[0],
                "bind": {"input": "select", "options": list(COLOURINGS), "name": "colour by "},
            },
            {"name": "zoom", "select": "interval", "bind": "scales"},
        ],
        "transform": [{"calculate": "datum[colour_by]", "as": "colour"}],
        "mark": {"type": "circle", "size": 40, "opacity": 0.8},
        "encoding": {
            "x": {"field": "x", "type": "quantitative", "axis": None},
            "y": {"field": "y", "type": "quantitative", "axis": None},
            "color": {"field": "colour", "type": "nominal", "title": None},
            "size": {
                "condition": {"test": "datum['round picked'] != 'not picked'", "value": 90},
                "value": 25,
            },
            "tooltip": [
                {"field": "image"},
                {"field": "file"},
                {"field": "condition"},
                {"field": "label"},
                {"field": "round picked"},
                {"field": "p(track)", "type": "quantitative"},
                {"field": "entropy", "type": "quantitative", "title": "uncertainty (entropy)"},
            ],
        },
    }


def write_page(chart: dict, out: Path) -> None:
    """A self-contained HTML page: the chart and the three scripts that draw it, inlined."""
    scripts = "\n".join(f"<script>{_snakemake_asset(name)}</script>" for name in ("vega", "vega-lite", "vega-embed"))
    # the spec goes in as JSON inside a script: a closing tag in it would end the script early
    payload = json.dumps(chart).replace("</", "<\\/")
    out.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        f"{chart['title']}</title>{scripts}\n"
        "<style>#vg-tooltip-element img{width:128px;height:auto}</style></head>\n"
        "<body><div id='map'></div>\n"
        f"<script>vegaEmbed('#map', {payload}, {{renderer: 'svg', actions: false}})"
        ".catch(e => { document.body.textContent = 'the map could not be drawn: ' + e; });</script>\n"
        "</body></html>\n"
    )
