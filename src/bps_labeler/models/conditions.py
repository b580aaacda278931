"""The image's condition (dose, hours after exposure) as input to the classifier's head.

Foci fade and resolve by 24 h and 48 h, and at a higher dose more nuclei are crossed, so the same
faint, short line is more often a track in one condition than in another. A linear head reading
one-hot levels learns one offset per level: the per-condition shift of the decision that a
single threshold cannot make (late tracks were the ones missed). Labels picked by the model's
uncertainty are picked on the image and its condition alone, so they still teach
P(track | image, condition) without bias.

Only columns with at least two levels among the training labels are read (the default subset's
undecided images share one condition: nothing changes there). A level the labels never had, or
an image without metadata, reads as all zeros: no offset, the image alone decides.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bps_labeler.data.meta import jpg_name

#: (column, its levels as text) for each column the head reads, in order.
Levels = list[tuple[str, list[str]]]

#: The value of a level's column when the image has it. The head starts as an L2-regularised
#: probe (train.probe_c) on learned features of norm 10 (FEATURE_SCALE) and standardised line
#: features; at 1 a level's offset costs as much as any learned direction's and stays small.
LEVEL_VALUE = 1.0


def by_image(meta: pd.DataFrame) -> pd.DataFrame:
    """meta.csv's rows indexed by the converted image's name, as training and prediction see it."""
    return meta.set_index(meta["filename"].map(jpg_name))


def level_text(value: object) -> str:
    """One spelling per level, whatever the reader made of it: 0.82, "0.820000" and 0.8200 alike."""
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def condition_levels(conditions: pd.DataFrame, filenames: Sequence[str], columns: Sequence[str]) -> Levels:
    """The levels of each of `columns` among `filenames` (the training labels), where there are two
    or more; `conditions` is indexed by JPG name. A name missing there, or a missing column, is
    the caller's error to report before training."""
    missing = [c for c in columns if c not in conditions.columns]
    if missing:
        raise KeyError(f"metadata columns {missing} not found (have {list(conditions.columns)})")
    rows = conditions.reindex(list(filenames))
    levels: Levels = []
    for column in columns:
        values = sorted({level_text(v) for v in rows[column].dropna()}, key=_sort_key)
        if len(values) >= 2:
            levels.append((column, values))
    return levels


def condition_features(conditions: pd.DataFrame | None, filenames: Sequence[str], levels: Levels) -> np.ndarray:
    """One-hot columns, `levels` in order, for `filenames`; zeros where the name, the column or
    the level is unknown."""
    width = sum(len(values) for _, values in levels)
    out = np.zeros((len(filenames), width), dtype=np.float32)
    if conditions is None or not width:
        return out
    rows = conditions.reindex(list(filenames))
    start = 0
    for column, values in levels:
        if column in rows.columns:
            index = {v: start + i for i, v in enumerate(values)}
            found = rows[column].dropna().map(level_text).map(index).to_numpy()
            hit = ~pd.isna(found)
            r = np.flatnonzero(rows[column].notna())[hit]
            out[r, found[hit].astype(int)] = LEVEL_VALUE
        start += len(values)
    return out


def _sort_key(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)
