"""A model's answer for every image of a scope: what the readout and people downstream read.

Each image gets the probability of each class and one answer, and says who gave it: the
condition, where the metadata decides the label (known_answers), or the model. Images are split
into a fixed number of shards by the hash of their name, as the conversion is, so the job count
does not grow with the data set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bps_labeler.data.convert import shard_of
from bps_labeler.data.meta import CONDITION, jpg_name
from bps_labeler.errors import InputError
from bps_labeler.models.conditions import by_image
from bps_labeler.models.network import TrackNet, predict_proba

#: What inference may cover: the training pool, every image the filter kept (pool and
#: validation images), or every image of meta.csv (the filter's and the rest, converted, and for
#: S3 downloaded, for inference alone).
SCOPES = ("pool", "filtered", "all")


def scope_filenames(meta: pd.DataFrame, pool: list[str], scope: str, shard: int, n_shards: int) -> list[str]:
    """The images (JPG names) of `scope` that fall in `shard`, sorted."""
    if scope not in SCOPES:
        raise InputError(f"inference.scope: {scope!r} is not one of {', '.join(SCOPES)}.")
    names = pool if scope == "pool" else [jpg_name(f) for f in meta["filename"]]
    return sorted(n for n in names if shard_of(n, n_shards) == shard)


def rest_of(meta: pd.DataFrame, filtered: pd.DataFrame) -> pd.DataFrame:
    """The rows of meta.csv the filter left out: what scope `all` adds to the filtered images."""
    return meta[~meta["filename"].isin(filtered["filename"])].reset_index(drop=True)


def rest_filenames(rest: pd.DataFrame, shard: int, n_shards: int) -> list[str]:
    """The JPG names of the left-out images of `shard`: sharded by TIFF name, as the conversion
    that made them (data.convert.convert_shard)."""
    return sorted(jpg_name(f) for f in rest["filename"] if shard_of(f, n_shards) == shard)


def answer_probabilities(
    model: TrackNet,
    image_dir: Path,
    names: list[str],
    rule_labels: dict[str, str],
    threads: int = 1,
    device: str = "cpu",
    conditions: pd.DataFrame | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(class probabilities, decided) per image: the rule's answer with full confidence where
    the condition decides the label (`decided`), the model's probabilities elsewhere. What the
    pipeline answers, for the next round's selection and for the readout alike. `conditions`:
    metadata indexed by JPG name (`conditions.by_image`), for a model that reads the condition."""
    categories = list(model.categories)
    probs = np.zeros((len(names), len(categories)))
    decided = np.array([n in rule_labels for n in names], dtype=bool)
    for i in np.flatnonzero(decided):
        probs[i, categories.index(rule_labels[names[i]])] = 1.0
    undecided = [n for n, d in zip(names, decided) if not d]
    if undecided:
        probs[~decided] = predict_proba(
            model, image_dir, undecided, threads=threads, device=device, conditions=conditions
        )
    return probs, decided


def answer_images(
    model: TrackNet,
    image_dir: Path,
    meta: pd.DataFrame,
    names: list[str],
    rule_labels: dict[str, str],
    threads: int = 1,
    device: str = "cpu",
) -> pd.DataFrame:
    """One row per image of `names` (JPG names of images in `meta`, the filtered meta.csv):
    filename, source_file (the TIFF), condition, p_<class> per class, answer, answered_by."""
    rows = meta.assign(source_file=meta["filename"], filename=meta["filename"].map(jpg_name))
    table = rows.set_index("filename").loc[names].reset_index()[["filename", "source_file", *CONDITION]]
    probs, decided = answer_probabilities(model, image_dir, names, rule_labels, threads, device, by_image(meta))
    categories = list(model.categories)
    for k, c in enumerate(categories):
        table[f"p_{c}"] = probs[:, k]
    table["answer"] = [categories[k] for k in probs.argmax(axis=1)]
    table["answered_by"] = np.where(decided, "condition", "model")
    return table
