"""Shared fixtures: a small synthetic dataset made once per test session."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def labelstudio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Label Studio server on a free loopback port, started once per test session.

    Its local-files document root is the session's temporary folder, so every test's images can
    be served. Yields {"url", "token", "token_env", "document_root"}; the token is also exported
    as LABEL_STUDIO_API_KEY for the workflow runs.
    """
    from bps_labeler.labelstudio_server import start, wait_until_up

    root = tmp_path_factory.getbasetemp()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "f" * 40
    proc = start(root / "labelstudio-data", root, port, "tests@localhost", "not-a-secret-1",
                 token, root / "labelstudio.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, timeout_s=240, proc=proc)
        old = os.environ.get("LABEL_STUDIO_API_KEY")
        os.environ["LABEL_STUDIO_API_KEY"] = token
        yield {"url": url, "token": token, "token_env": "LABEL_STUDIO_API_KEY", "document_root": str(root)}
        if old is None:
            os.environ.pop("LABEL_STUDIO_API_KEY", None)
        else:
            os.environ["LABEL_STUDIO_API_KEY"] = old
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except Exception:
            proc.kill()
