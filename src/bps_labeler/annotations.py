"""Labels in Label Studio's JSON-MIN export format, and the simulated annotator.

Whatever backend produced them (the oracle, a Label Studio server, a file someone dropped in),
a round's labels are the same list of JSON-MIN records, so training never knows the difference.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pandas as pd

from bps_labeler.errors import InputError
from bps_labeler.meta import jpg_name

CATEGORIES: tuple[str, ...] = ("track", "no track")
#: Label Studio serves files of a local-files storage under this URL prefix.
LOCAL_FILES_PREFIX = "/data/local-files/?d="


def image_url(filename: str, image_root: str) -> str:
    """The task's `image` value: a Label Studio local-files URL relative to the document root."""
    return f"{LOCAL_FILES_PREFIX}{PurePosixPath(image_root) / filename}"


def filename_of(image: str) -> str:
    """The JPG name inside a task's `image` value, whatever URL form the export used."""
    parsed = urlparse(image)
    query = parse_qs(parsed.query)
    path = query["d"][0] if "d" in query else unquote(parsed.path)
    return PurePosixPath(path).name


def read_truth(path: Path) -> dict[str, str]:
    """Hidden true labels by JPG name; only the simulated annotator may read them."""
    df = pd.read_csv(path)
    missing = {"filename", "label"} - set(df.columns)
    if missing:
        raise InputError(f"{path}: truth file lacks column(s) {sorted(missing)}.")
    return {jpg_name(f): str(l) for f, l in zip(df["filename"], df["label"])}


def _flip(filename: str, seed: int, noise: float) -> bool:
    h = hashlib.sha256(f"{seed}:{filename}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < noise


def oracle_records(
    filenames: list[str], truth: dict[str, str], image_root: str, noise: float = 0.0, seed: int = 0
) -> list[dict[str, Any]]:
    """JSON-MIN records as a careful human would export them; `noise` flips labels at random.

    A flip depends only on (seed, filename), so a rerun gives the same labels.
    """
    missing = [f for f in filenames if f not in truth]
    if missing:
        raise InputError(
            f"the oracle has no true label for {len(missing)} image(s), e.g. {missing[:3]}. "
            "The oracle only works with the synthetic source; use another annotation backend."
        )
    records = []
    for i, name in enumerate(filenames, start=1):
        label = truth[name]
        if noise > 0 and _flip(name, seed, noise):
            label = CATEGORIES[1 - CATEGORIES.index(label)]
        records.append(
            {"image": image_url(name, image_root), "id": i, "choice": label, "annotator": "oracle"}
        )
    return records


def write_records(records: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")


def read_labels(path: Path, categories: tuple[str, ...] = CATEGORIES) -> dict[str, str]:
    """JPG name -> label from a JSON-MIN file; any bad record stops with its index and field."""
    text = Path(path).read_text()
    if not text.strip():
        raise InputError(f"{path}: empty file; expected a JSON-MIN export (a list of records).")
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}).") from exc
    if not isinstance(records, list):
        raise InputError(f"{path}: expected a list of JSON-MIN records, got {type(records).__name__}.")
    labels: dict[str, str] = {}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or "image" not in rec:
            raise InputError(f"{path}, record {i}: no 'image' field.")
        if "choice" not in rec:
            raise InputError(f"{path}, record {i} ({rec['image']}): no 'choice' field (unlabeled).")
        choice = rec["choice"]
        if choice not in categories:
            raise InputError(
                f"{path}, record {i} ({rec['image']}): label {choice!r} is not one of "
                f"{', '.join(categories)}."
            )
        labels[filename_of(rec["image"])] = choice
    return labels
