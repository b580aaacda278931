"""Validation figures of class probabilities, in the layout metrics.json keeps.

Apart from the classifier so that evaluation and the report read and compute them without
importing torch and Lightning.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, roc_auc_score, roc_curve


def metrics(
    probs: np.ndarray, y_true: list[int], categories: tuple[str, ...], positive: str = "track"
) -> dict[str, object]:
    """Validation figures; AUROC treats `positive` as the positive class."""
    y = np.asarray(y_true)
    pred = probs.argmax(axis=1)
    pos = categories.index(positive)
    out: dict[str, object] = {
        "n_val": int(len(y)),
        "accuracy": round(float(accuracy_score(y, pred)), 6),
        "balanced_accuracy": round(float(balanced_accuracy_score(y, pred)), 6),
        "auroc": None,
        "confusion_matrix": confusion_matrix(y, pred, labels=list(range(len(categories)))).tolist(),
        "categories": list(categories),
    }
    if len(set(y.tolist())) > 1:
        out["auroc"] = round(float(roc_auc_score(y == pos, probs[:, pos])), 6)
        # what the ranking allows: the balanced accuracy at the best threshold, chosen on these
        # very images (a ceiling to read the model's own threshold against, not a figure to report)
        fpr, tpr, _ = roc_curve(y == pos, probs[:, pos])
        out["best_threshold_balanced_accuracy"] = round(float(np.max((tpr + 1 - fpr) / 2)), 6)
    return out


def write_metrics(values: dict[str, object], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=1, sort_keys=True) + "\n")


def validation_table(
    names: list[str],
    probs: np.ndarray,
    labels: dict[str, str],
    known: pd.Series,
    categories: tuple[str, ...],
) -> pd.DataFrame:
    """A row per validation image: filename, label, the model's p_<category> (before the rule
    answers anything), the model's answer, and the label the condition decides ("" where it
    does not). What the readout measures the model's mistakes with, per condition, and what an
    exported model is checked against."""
    table = pd.DataFrame({"filename": names, "label": [labels[n] for n in names]})
    for k, c in enumerate(categories):
        table[f"p_{c}"] = probs[:, k]
    table["answer"] = [categories[k] for k in probs.argmax(axis=1)] if len(names) else []
    table["rule"] = [known.get(n) or "" for n in names]
    return table
