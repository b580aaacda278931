"""Per-image metadata in Lightly's format (https://docs.lightly.ai/docs/work-with-metadata).

One JSON per image plus a `schema.json` that types each field, so the datasource can be opened by
Lightly tools and selection configs can refer to `particle_type`, `dose_Gy` and `hr_post_exposure`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from bps_labeler.meta import jpg_name, stem

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


QUALITY_SCHEMA: list[dict[str, Any]] = [
    {"name": "Sharpness", "path": "sharpness", "defaultValue": 0.0, "valueDataType": "NUMERIC_FLOAT"},
    {"name": "Signal to noise", "path": "snr", "defaultValue": 0.0, "valueDataType": "NUMERIC_FLOAT"},
    {"name": "Saturated fraction", "path": "saturated_fraction", "defaultValue": 0.0, "valueDataType": "NUMERIC_FLOAT"},
    {"name": "Foreground fraction", "path": "foreground_fraction", "defaultValue": 0.0, "valueDataType": "NUMERIC_FLOAT"},
    {"name": "Border fraction", "path": "border_fraction", "defaultValue": 0.0, "valueDataType": "NUMERIC_FLOAT"},
]


def record(row: pd.Series, quality: dict[str, float] | None = None) -> dict[str, Any]:
    """The Lightly metadata record of one meta.csv row, with its image-quality measures."""
    return {
        "file_name": jpg_name(row["filename"]),
        "type": "image",
        "metadata": {
            "dose_Gy": float(row["dose_Gy"]),
            "particle_type": str(row["particle_type"]),
            "hr_post_exposure": int(row["hr_post_exposure"]),
            **(quality or {}),
        },
    }


def write_metadata(meta: pd.DataFrame, out_dir: Path, quality: pd.DataFrame | None = None) -> None:
    """Write `<stem>.json` for every row and `schema.json` into `out_dir`.

    `quality` (the conversion manifest) adds the image-quality measures of each JPG; images it
    does not list (not converted) get no metadata file.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    schema = SCHEMA + (QUALITY_SCHEMA if quality is not None else [])
    (out_dir / "schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    fields = [s["path"] for s in QUALITY_SCHEMA]
    by_name = quality.set_index("filename")[fields].to_dict("index") if quality is not None else None
    for _, row in meta.iterrows():
        q = None
        if by_name is not None:
            q = by_name.get(jpg_name(row["filename"]))
            if q is None:
                continue
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
