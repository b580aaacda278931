"""Embeddings in Lightly's CSV layout, written and read without loading torch.

Every later stage reads embeddings; keeping the reader free of the network code keeps those
jobs from importing torch and Lightning only to parse a CSV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def embeddings_frame(filenames: list[str], emb: np.ndarray) -> pd.DataFrame:
    """Lightly's embeddings CSV layout: filenames, embedding_0..N-1, labels."""
    cols = {f"embedding_{i}": emb[:, i] for i in range(emb.shape[1])}
    return pd.DataFrame({"filenames": filenames, **cols, "labels": 0})


def write_embeddings(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.6f")


def read_embeddings(path: Path) -> tuple[list[str], np.ndarray]:
    """Read a Lightly embeddings CSV; refuse NaNs, which would poison every distance."""
    df = pd.read_csv(path)
    if "filenames" not in df.columns:
        raise ValueError(f"{path}: not a Lightly embeddings CSV (no 'filenames' column).")
    cols = [c for c in df.columns if c.startswith("embedding_")]
    emb = df[cols].to_numpy(dtype=np.float32)
    bad = np.isnan(emb).any(axis=1)
    if bad.any():
        names = df["filenames"][bad].head(5).tolist()
        raise ValueError(f"{path}: embeddings contain NaN for {int(bad.sum())} image(s), e.g. {names}.")
    return df["filenames"].tolist(), emb
