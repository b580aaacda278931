"""Deterministic train/validation split, stratified by condition.

Each image's place is decided by a seeded hash of its name, so the split is the same on every
file system and does not move when rows are added to or removed from meta.csv.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from bps_labeler.data.meta import CONDITION, jpg_name
from bps_labeler.errors import InputError


def _rank_key(seed: int, name: str) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def _allocate(sizes: list[int], total: int) -> list[int]:
    """Split `total` over groups in proportion to their sizes (largest remainders get the rest)."""
    n = sum(sizes)
    total = min(total, n)
    exact = [total * k / n for k in sizes]
    counts = [int(e) for e in exact]
    for i in sorted(range(len(sizes)), key=lambda i: exact[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[i] += 1
    return counts


def stratified_split(
    meta: pd.DataFrame,
    val_fraction: float | None,
    seed: int,
    fixed: dict[str, str] | None = None,
    val_size: int | None = None,
) -> pd.DataFrame:
    """Return `filename,split` (JPG names, sorted), the validation images stratified by condition.

    `val_size` asks for a fixed number of validation images whatever the data set's size (people
    label them once, so their cost must not grow with the pool); without it, `val_fraction` of
    each condition. `fixed` (JPG name -> side) keeps images that people already labeled on the
    side they were labeled for, whatever the size, fraction or seed now say.
    """
    fixed = fixed or {}
    groups = [sorted(g["filename"], key=lambda n: _rank_key(seed, n)) for _, g in meta.groupby(CONDITION, sort=True)]
    if val_size is not None:
        if val_size < 0:
            raise InputError(f"split.val_size = {val_size}; need a number of images >= 0.")
        if val_size >= len(meta):
            raise InputError(
                f"split.val_size = {val_size} takes all {len(meta)} images of the filtered set for validation: "
                f"none would be left to select from. Lower split.val_size (say {len(meta) // 5}) or widen the filter."
            )
        n_vals = _allocate([len(g) for g in groups], val_size)
    else:
        if val_fraction is None or not 0 <= val_fraction < 1:
            raise InputError(f"split.val_fraction = {val_fraction}; need 0 <= val_fraction < 1.")
        n_vals = [int(round(len(g) * val_fraction)) for g in groups]
    parts = []
    for names, k in zip(groups, n_vals):
        # labeled images count towards their condition's quota first; the hash fills the rest
        side = [fixed.get(jpg_name(n)) for n in names]
        val = [n for n, f in zip(names, side) if f == "val"]
        free = [n for n, f in zip(names, side) if f is None]
        val += free[: max(0, k - len(val))]
        chosen = set(val)
        parts.append(pd.DataFrame({"filename": names, "split": ["val" if n in chosen else "train" for n in names]}))
    out = pd.concat(parts, ignore_index=True)
    if not (out["split"] == "val").any():
        # every round is scored on the validation images: with none, no figure could be made
        asked = f"split.val_size = {val_size}" if val_size is not None else f"split.val_fraction = {val_fraction}"
        raise InputError(
            f"{asked} leaves no validation image among {len(meta)}; every round's model is scored on "
            "them, beside the metadata rule. Ask for some: split.val_size: 200 (the default) or a "
            "val_fraction such as 0.2."
        )
    out["filename"] = out["filename"].map(jpg_name)
    return out.sort_values("filename").reset_index(drop=True)


def split_filenames(path: Path, which: str) -> list[str]:
    """The JPG names of one side ("train" or "val") of a split.csv."""
    split = pd.read_csv(path)
    return split.loc[split["split"] == which, "filename"].tolist()
