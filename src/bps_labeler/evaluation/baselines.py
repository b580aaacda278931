"""A model's validation figures beside what needs no model: the metadata rule and the majority.

A figure alone says nothing when the condition already answers most images, so every score is
reported next to its baselines on the same images, overall and on the undecided subset (images
whose condition does not decide the label), which is the headline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bps_labeler.models.metrics import metrics


def _constant(label: str, n: int, categories: tuple[str, ...]) -> np.ndarray:
    probs = np.zeros((n, len(categories)))
    probs[:, categories.index(label)] = 1.0
    return probs


def majority_class(train_labels: dict[str, str], categories: tuple[str, ...]) -> str:
    """The most common class among the labels so far (ties: the first category)."""
    counts = [sum(v == c for v in train_labels.values()) for c in categories]
    return categories[int(np.argmax(counts))]


def _scores(probs: np.ndarray, y: list[int], categories: tuple[str, ...], positive: str) -> dict[str, Any]:
    m = metrics(probs, y, categories, positive)
    keys = ("n_val", "accuracy", "balanced_accuracy", "auroc", "best_threshold_balanced_accuracy", "confusion_matrix")
    return {k: m.get(k) for k in keys}


def with_baselines(
    names: list[str],
    probs: np.ndarray,
    truth: dict[str, str],
    known: pd.Series,
    rule_probs: np.ndarray,
    majority: str,
    categories: tuple[str, ...],
    positive: str = "track",
) -> dict[str, Any]:
    """Model, metadata rule and majority class, overall and on the undecided images.

    `model_and_rule` answers known images by their condition and the rest by the model: on the
    undecided images it is the model, overall it is what the pipeline can deliver.

    `known` and `rule_probs` are aligned with `names`; `known` is missing (None or NaN) where the
    condition does not decide the label.
    """
    y = np.array([categories.index(truth[n]) for n in names])
    undecided = pd.isna(known).to_numpy()
    majority_probs = _constant(majority, len(names), categories)
    # what the pipeline can answer: the condition where it decides, the model elsewhere
    combined = np.where(undecided[:, None], probs, rule_probs)

    def block(mask: np.ndarray) -> dict[str, Any]:
        if not mask.any():
            return {"n_val": 0}
        return {
            "n_val": int(mask.sum()),
            "model": _scores(probs[mask], y[mask].tolist(), categories, positive),
            "model_and_rule": _scores(combined[mask], y[mask].tolist(), categories, positive),
            "metadata_rule": _scores(rule_probs[mask], y[mask].tolist(), categories, positive),
            "majority": _scores(majority_probs[mask], y[mask].tolist(), categories, positive),
        }

    return {
        "majority_class": majority,
        "overall": block(np.ones(len(names), dtype=bool)),
        "undecided": block(undecided),
        "n_known": int((~undecided).sum()),
    }
