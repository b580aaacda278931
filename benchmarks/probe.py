"""The pipeline's linear probe on random label draws: how much a set of features knows."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from bps_labeler.models.classifier import linear_probe


def standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
    return [(x - mean) / std for x in (train, *others)]


def probe(
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    n: int,
    draws: int,
    scale: slice | None = None,
) -> tuple[float, float]:
    """Mean balanced accuracy and AUROC of the linear probe on `n` random labels (one draw when
    `n` is all of them). The columns in `scale` are standardized on the drawn labels only, as a
    model trained on them would be."""
    baccs, aucs = [], []
    for d in range(draws if n < len(y_tr) else 1):
        idx = np.random.default_rng(d).permutation(len(y_tr))[:n]
        if len(set(y_tr[idx])) < 2:
            continue
        a, b = x_tr[idx].copy(), x_val.copy()
        if scale is not None:
            a[:, scale], b[:, scale] = standardize(a[:, scale], b[:, scale])
        clf = linear_probe(a, y_tr[idx])
        baccs.append(balanced_accuracy_score(y_val, clf.predict(b)))
        aucs.append(roc_auc_score(y_val, clf.predict_proba(b)[:, 1]))
    return float(np.mean(baccs)), float(np.mean(aucs))
