"""`bps-labeler status` for sets in Label Studio when the server cannot be read."""

from __future__ import annotations

import socket

from bps_labeler.labeling.store import give
from bps_labeler.workflow.status import format_status, set_status


def test_a_set_in_an_unreachable_label_studio_says_why_not_how_far(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    store = tmp_path / "annotations"
    give("validation", ["a.jpg", "b.jpg"], "labelstudio", where=f"{dead}/projects/3", store=store)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    (row,) = set_status(tmp_path)
    assert row["server"] == "set LABEL_STUDIO_API_KEY to read Label Studio"
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "x" * 40)
    (row,) = set_status(tmp_path)
    assert row["server"].startswith(f"Label Studio not read: Label Studio at {dead} did not answer")
    assert "waiting for people's export (Label Studio not read" in format_status([row])
    assert set_status(tmp_path, ask_server=False)[0]["server"] is None
