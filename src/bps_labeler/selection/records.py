"""The `selection.json` contract: written once per round, read by later rounds and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bps_labeler.selection.pool import Pool


def selection_record(
    round_: int, config: dict[str, Any], pool: Pool, preselected: list[str], chosen: list[str]
) -> dict[str, Any]:
    """The `selection.json` contract: picks in order, the config used, per-sample scores.

    Contains nothing that changes between identical runs (no times, no paths), so two runs of the
    same config are byte-identical.
    """
    index = {n: i for i, n in enumerate(pool.filenames)}
    samples = []
    for rank, name in enumerate(chosen, start=1):
        i = index[name]
        meta = pool.metadata.loc[name]
        samples.append(
            {
                "rank": rank,
                "filename": name,
                "scores": {k: round(float(v[i]), 6) for k, v in pool.scores.items()},
                "metadata": {k: (v.item() if hasattr(v, "item") else v) for k, v in meta.items()},
            }
        )
    return {
        "round": round_,
        "config": config,
        "pool_size": len(pool.filenames),
        "n_preselected": len(preselected),
        "n_known_left_out": int(pool.known.sum()) if pool.known is not None else 0,
        "n_selected": len(chosen),
        "selected": samples,
    }


def read_selected(path: Path) -> list[str]:
    return [s["filename"] for s in json.loads(Path(path).read_text())["selected"]]


def round_tags(paths: list[Path]) -> dict[str, list[str]]:
    """Earlier rounds' selections as tags, as Lightly tags each selection run: round_<r>."""
    tags = {}
    for path in paths:
        record = json.loads(Path(path).read_text())
        tags[f"round_{record['round']}"] = [s["filename"] for s in record["selected"]]
    return tags


def write_selection(record: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
