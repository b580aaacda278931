"""Deterministic train/validation split, stratified by condition.

Each image's place is decided by a seeded hash of its name, so the split is the same on every
file system and does not move when rows are added to or removed from meta.csv.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from bps_labeler.errors import InputError
from bps_labeler.meta import jpg_name

CONDITION = ["particle_type", "dose_Gy", "hr_post_exposure"]


def _rank_key(seed: int, name: str) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def stratified_split(
    meta: pd.DataFrame, val_fraction: float, seed: int, fixed: dict[str, str] | None = None
) -> pd.DataFrame:
    """Return `filename,split` (JPG names, sorted) with `val_fraction` of each condition in val.

    `fixed` (JPG name -> side) keeps images that people already labeled on the side they were
    labeled for, whatever the fraction or seed now say; the others fall where the hash puts them.
    """
    if not 0 <= val_fraction < 1:
        raise InputError(f"split.val_fraction = {val_fraction}; need 0 <= val_fraction < 1.")
    parts = []
    for _, group in meta.groupby(CONDITION, sort=True):
        names = sorted(group["filename"], key=lambda n: _rank_key(seed, n))
        n_val = int(round(len(names) * val_fraction))
        parts.append(pd.DataFrame({"filename": names, "split": ["val"] * n_val + ["train"] * (len(names) - n_val)}))
    out = pd.concat(parts, ignore_index=True)
    out["filename"] = out["filename"].map(jpg_name)
    if fixed:
        out["split"] = [fixed.get(n, s) for n, s in zip(out["filename"], out["split"])]
    return out.sort_values("filename").reset_index(drop=True)


def split_filenames(path: Path, which: str) -> list[str]:
    """The JPG names of one side ("train" or "val") of a split.csv."""
    split = pd.read_csv(path)
    return split.loc[split["split"] == which, "filename"].tolist()
