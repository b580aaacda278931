"""Shared fixtures: a small synthetic dataset made once per test session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bps_labeler.synthetic import SyntheticSpec, generate

REPO = Path(__file__).resolve().parents[1]
SHARED_BPS = REPO.parent / "shared" / "bps"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    """(raw folder with meta.csv and TIFFs, truth.csv, meta) for 68 images: 4 per condition."""
    root = tmp_path_factory.mktemp("synthetic")
    meta = generate(root / "raw", root / "truth.csv", SyntheticSpec(n_images=68, seed=3))
    return root / "raw", root / "truth.csv", meta


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
