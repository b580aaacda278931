"""Where a run stands, round by round: what was selected, given to people, labeled, trained.

Read from the files the pipeline and the label store leave, never from Snakemake's own state, so
it answers the same on a clone restored with DVC, and while a run waits for people. A set given
to people in Label Studio and not yet exported is read from the server (its project is recorded
in the store), so a lab sees how far labeling has come while nothing runs (`wait: false`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from bps_labeler.labeling.store import SET_NAME, STORE, VALIDATION, export_path, read_store, title


def _round(name: str) -> int | None:
    """The round a set's name is (`round_2` -> 2), or None for the validation set or any other name."""
    return int(name.removeprefix("round_")) if SET_NAME.fullmatch(name) and name != VALIDATION else None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _token_env(workdir: Path) -> str:
    """The variable the run's config names for the Label Studio token (the default otherwise)."""
    try:
        cfg = yaml.safe_load((workdir / "config" / "config.yaml").read_text()) or {}
        return str(cfg["annotation"]["labelstudio"]["token_env"])
    except (OSError, ValueError, KeyError, TypeError):
        return "LABEL_STUDIO_API_KEY"


def server_counts(where: str, filenames: list[str], token_env: str) -> dict[str, int] | str:
    """A set's tasks as its Label Studio project counts them, or why they could not be read."""
    from bps_labeler.errors import InputError
    from bps_labeler.labeling.labelstudio import connect, task_counts

    found = re.fullmatch(r"(.+)/projects/(\d+)/?", where)
    if not found:
        return "no Label Studio project recorded"
    if not os.environ.get(token_env):
        return f"set {token_env} to read Label Studio"
    try:
        server = connect(found.group(1), token_env, retries=1, backoff_s=0.1)
        return task_counts(server, int(found.group(2)), filenames)
    except InputError as err:
        return f"Label Studio not read: {str(err).split('. ')[0]}"


def set_status(workdir: Path, ask_server: bool = True) -> list[dict[str, Any]]:
    """One row per labeled set (the validation images, then each round) the run or the store knows."""
    store = workdir / STORE
    given = read_store(store) if store.is_dir() else {}
    names = [p.name for p in (workdir / "results").glob("round_*")] + list(given)
    rounds = {r for r in map(_round, names) if r is not None}
    rows = []
    token_env = _token_env(workdir)
    for name in [VALIDATION, *(f"round_{r}" for r in sorted(rounds))]:
        folder = workdir / "results" / name
        selection = _json(folder / "selection.json")
        report = _json(folder / "annotation_report.json")
        labels = _json(folder / "annotations.json")
        metrics = _json(folder / "metrics.json")
        record = given.get(name)
        exported = (workdir / export_path(name)).is_file()
        server = None
        if ask_server and record is not None and record.backend == "labelstudio" and not exported and report is None:
            server = server_counts(record.where, record.filenames, token_env)
        undecided = (metrics or {}).get("baselines", {}).get("undecided", {})
        rows.append(
            {
                "set": name,
                "selected": len(selection["selected"]) if selection else None,
                "given": f"{record.labeler} ({record.backend}), {record.written_at}" if record else None,
                "export": exported,
                "server": server,
                "labeled": (report or {}).get("n_labeled", len(labels) if isinstance(labels, list) else None),
                "to_label": (report or {}).get("n_expected"),
                "skipped": len((report or {}).get("skipped", [])) if report else None,
                "model": (folder / "model.ckpt").is_file(),
                "undecided_balanced_accuracy": undecided.get("model", {}).get("balanced_accuracy"),
                "rule_balanced_accuracy": undecided.get("metadata_rule", {}).get("balanced_accuracy"),
            }
        )
    return rows


def format_status(rows: list[dict[str, Any]]) -> str:
    """The rows as a table a person reads in a terminal."""
    if not rows:
        return "No round yet: nothing selected and nothing in the label store."
    head = ["set", "selected", "given to", "labeled", "model", "undecided bal. acc. (rule)"]
    table = [head]
    for r in rows:
        labeled = "-"
        if r["labeled"] is not None:
            labeled = f"{r['labeled']}" + (f" / {r['to_label']}" if r["to_label"] is not None else "")
            labeled += f", {r['skipped']} skipped" if r["skipped"] else ""
        elif isinstance(r.get("server"), dict):
            c = r["server"]
            labeled = f"{c['labeled']} / {c['given']} in Label Studio, {c['skipped']} skipped, {c['left']} left"
        elif r["given"]:
            labeled = "export in the store, not read yet" if r["export"] else "waiting for people's export"
            labeled += f" ({r['server']})" if r.get("server") else ""
        model, rule = r["undecided_balanced_accuracy"], r["rule_balanced_accuracy"]
        figure = "-" if model is None else f"{model:.3f}" + ("" if rule is None else f" ({rule:.3f})")
        table.append(
            [
                title(r["set"]),
                "-" if r["selected"] is None else str(r["selected"]),
                r["given"] or "-",
                labeled,
                "yes" if r["model"] else "-",
                figure,
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table)
