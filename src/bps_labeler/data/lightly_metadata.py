"""Per-image metadata in Lightly's format (https://docs.lightly.ai/docs/work-with-metadata).

One JSON per image plus a `schema.json` that types each field, so the datasource can be opened by
Lightly tools and selection configs can refer to `particle_type`, `dose_Gy` and `hr_post_exposure`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from bps_labeler.data.convert import QUALITY_COLUMNS
from bps_labeler.data.meta import jpg_name, stem

SCHEMA: list[dict[str, Any]] = [
    {"name": "Dose (Gy)", "path": "dose_Gy", "defaultValue": 0.0, "valueDataType": "NUMERIC_FLOAT"},
    {
        "name": "Particle type",
        "path": "particle_type",
        "defaultValue": "undefined",
        "valueDataType": "CATEGORICAL_STRING",
    },
    {
        "name": "Hours post exposure",
        "path": "hr_post_exposure",
        "defaultValue": 0,
        "valueDataType": "NUMERIC_INT",
    },
]


#: Display names of the image-quality measures of convert.QUALITY_COLUMNS.
QUALITY_NAMES = {
    "sharpness": "Sharpness",
    "snr": "Signal to noise",
    "saturated_fraction": "Saturated fraction",
    "foreground_fraction": "Foreground fraction",
    "border_fraction": "Border fraction",
}
QUALITY_SCHEMA: list[dict[str, Any]] = [
    {"name": QUALITY_NAMES[c], "path": c, "defaultValue": 0.0, "valueDataType": "NUMERIC_FLOAT"}
    for c in QUALITY_COLUMNS
]


def record(row: pd.Series, quality: dict[str, float]) -> dict[str, Any]:
    """The Lightly metadata record of one meta.csv row, with its image-quality measures."""
    return {
        "file_name": jpg_name(row["filename"]),
        "type": "image",
        "metadata": {
            "dose_Gy": float(row["dose_Gy"]),
            "particle_type": str(row["particle_type"]),
            "hr_post_exposure": int(row["hr_post_exposure"]),
            **quality,
        },
    }


def write_metadata(meta: pd.DataFrame, out_dir: Path, quality: pd.DataFrame) -> None:
    """Write `<stem>.json` for every converted row and `schema.json` into `out_dir`.

    `quality` (the conversion manifest) adds the image-quality measures of each JPG; images it
    does not list (not converted) get no metadata file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "schema.json").write_text(json.dumps(SCHEMA + QUALITY_SCHEMA, indent=2) + "\n")
    by_name = quality.set_index("filename")[list(QUALITY_COLUMNS)].to_dict("index")
    for _, row in meta.iterrows():
        q = by_name.get(jpg_name(row["filename"]))
        if q is not None:
            (out_dir / f"{stem(row['filename'])}.json").write_text(json.dumps(record(row, q)) + "\n")


def metadata_table(metadata_dir: Path) -> pd.DataFrame:
    """All per-image metadata of a Lightly metadata folder, one row per image keyed by file name."""
    rows = []
    for path in sorted(Path(metadata_dir).glob("*.json")):
        if path.name == "schema.json":
            continue
        rec = json.loads(path.read_text())
        rows.append({"filename": rec["file_name"], **rec["metadata"]})
    return pd.DataFrame(rows).set_index("filename")
