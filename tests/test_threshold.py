"""train.threshold: cross_validated, a threshold the training labels alone decide."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from bps_labeler.models.classifier import cross_validated_threshold, linear_probe

pytestmark = pytest.mark.unit


def _data(rng, n0, n1, d=50):
    """Two classes apart along one of `d` noisy directions, as few labels on frozen features."""

    def draw(n, cls):
        mean = np.zeros(d)
        mean[0] = 1.5 if cls else -1.5
        return rng.normal(mean, 1.0, (n, d))

    return np.vstack([draw(n0, 0), draw(n1, 1)]), np.array([0] * n0 + [1] * n1)


def _balanced_accuracies(n0, n1, seeds=20):
    """Per seed: (probe's own threshold, cross-validated) balanced accuracy on 2,000 new images."""
    out = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        x, y = _data(rng, n0, n1)
        xt, yt = _data(rng, 1000, 1000)
        probe = linear_probe(x, y, 0.1)
        scores = probe.decision_function(xt)
        t = cross_validated_threshold(x, y, 0.1, seed)
        out.append((balanced_accuracy_score(yt, scores > 0), balanced_accuracy_score(yt, scores > t)))
    return np.array(out)


def test_skewed_labels_get_a_threshold_that_new_images_agree_with():
    # 46 labels of one class, 4 of the other: the probe's own threshold sits next to the four
    scores = _balanced_accuracies(46, 4)
    assert scores[:, 1].mean() - scores[:, 0].mean() > 0.05, scores.mean(axis=0)
    assert (scores[:, 1] >= scores[:, 0]).mean() >= 0.8


def test_balanced_labels_keep_about_the_probes_threshold():
    scores = _balanced_accuracies(25, 25, seeds=10)
    assert abs(scores[:, 1].mean() - scores[:, 0].mean()) < 0.02, scores.mean(axis=0)


def test_a_class_with_one_label_keeps_the_probes_threshold():
    x, y = _data(np.random.default_rng(0), 20, 1)
    assert cross_validated_threshold(x, y, 0.1) == 0.0
