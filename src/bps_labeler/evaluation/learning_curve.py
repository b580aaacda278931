"""Every round's figures in one table: the learning curve, and what `dvc metrics show` lists.

One row per round, the headline (undecided images) beside the baselines, so a curve that does not
beat the rule shows it on the same line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def learning_curve(metrics_files: list[Path]) -> pd.DataFrame:
    """Rows of round, labels, and balanced accuracy / AUROC of model, rule and majority."""
    rows = [figures(json.loads(Path(path).read_text())) for path in metrics_files]
    return pd.DataFrame(rows).sort_values("round").reset_index(drop=True)


def figures(metrics: dict) -> dict[str, float]:
    """One round's row of the curve, from its metrics.json: what the trackers log per round too."""
    row = {"round": metrics["round"], "n_labels": metrics["n_labels"], "n_val": metrics["n_val"]}
    for subset in ("undecided", "overall"):
        for who in ("model", "metadata_rule", "majority", "model_and_rule"):
            scores = metrics["baselines"][subset][who]
            row[f"{subset}_{who}_balanced_accuracy"] = scores["balanced_accuracy"]
            row[f"{subset}_{who}_auroc"] = scores["auroc"]
    return row


def write(curve: pd.DataFrame, csv: Path, metrics: Path) -> None:
    """The curve as CSV (for `dvc plots`) and as JSON keyed by round (for `dvc metrics`)."""
    curve.to_csv(csv, index=False)
    by_round = {
        f"round_{int(r['round'])}": {k: v for k, v in r.items() if k != "round"} for r in curve.to_dict("records")
    }
    metrics.write_text(json.dumps(by_round, indent=1, sort_keys=True) + "\n")
