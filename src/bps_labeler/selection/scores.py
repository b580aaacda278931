"""The task name and uncertainty scores that selection reads from a model's predictions.

They belong to selection, not to the model: a selection config names the task and the score, and
the model stage only writes probabilities in the format these are computed from.
"""

from __future__ import annotations

import numpy as np

TASK = "bps-classification"


def active_learning_scores(probs: np.ndarray) -> dict[str, np.ndarray]:
    """Lightly's classification uncertainty scores, each scaled to 0 (sure) .. 1 (unsure)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    n_classes = p.shape[1]
    top = np.sort(p, axis=1)[:, ::-1]
    least_conf = (1.0 - top[:, 0]) * n_classes / (n_classes - 1)
    margin = 1.0 - (top[:, 0] - top[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log2(p), 0.0)
    entropy = -plogp.sum(axis=1) / np.log2(n_classes)
    return {
        "uncertainty_least_confidence": np.clip(least_conf, 0, 1),
        "uncertainty_margin": np.clip(margin, 0, 1),
        "uncertainty_entropy": np.clip(entropy, 0, 1),
    }
