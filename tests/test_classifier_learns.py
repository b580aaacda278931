"""Checks a wrong model fails: it must learn an easy task, keep its probe, and keep class names."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import balanced_accuracy_score
from torch.nn import functional as F

from bps_labeler.data.images import load_images
from bps_labeler.embeddings.backbone import eval_transform, read_backbone
from bps_labeler.embeddings.simclr import EmbedSpec, train_embeddings
from bps_labeler.models.classifier import (
    TrackClassifier,
    TrainSpec,
    fit_linear_probe,
    head_features,
    linear_probe,
    train,
)
from bps_labeler.models.foci import image_features
from bps_labeler.models.network import predict_proba

CATS = ("track", "no track")


@pytest.fixture(scope="module")
def separable(tmp_path_factory):
    """48 images: a bright diagonal line of spots (track) or the same spots scattered (no track)."""
    out = tmp_path_factory.mktemp("separable")
    rng = np.random.default_rng(0)
    truth = {}
    for i in range(48):
        img = rng.normal(40, 6, (64, 64))
        track = i % 2 == 0
        for k in range(10):
            if track:
                y, x = 8 + 5 * k, 8 + 5 * k
            else:
                y, x = rng.integers(4, 60, 2)
            img[y - 1 : y + 2, x - 1 : x + 2] = 230
        name = f"img_{i:02d}.jpg"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(out / name, quality=95)
        truth[name] = "track" if track else "no track"
    names = sorted(truth)
    spec = EmbedSpec(input_size=32, epochs=1, batch_size=16, dim=8)
    train_embeddings(out, names, spec, out / "embeddings.csv", out / "backbone.pt")
    return out, names, truth


def test_the_classifier_learns_a_separable_task(separable, tmp_path):
    image_dir, names, truth = separable
    train_names, test_names = names[:24], names[24:]
    model = train(
        image_dir,
        {n: truth[n] for n in train_names},
        image_dir / "backbone.pt",
        CATS,
        TrainSpec(epochs=3, batch_size=8),
        tmp_path / "m.ckpt",
    )
    probs = predict_proba(model, image_dir, test_names)
    y = [CATS.index(truth[n]) for n in test_names]
    assert balanced_accuracy_score(y, probs.argmax(axis=1)) > 0.9


def test_class_names_not_positions_carry_the_answer(separable, tmp_path):
    """Listing the categories the other way round must not swap what the model says."""
    image_dir, names, truth = separable
    labels = {n: truth[n] for n in names[:24]}
    swapped = ("no track", "track")
    model = train(
        image_dir, labels, image_dir / "backbone.pt", swapped, TrainSpec(epochs=3, batch_size=8), tmp_path / "m.ckpt"
    )
    probs = predict_proba(model, image_dir, names[24:])
    p_track = probs[:, swapped.index("track")]
    is_track = np.array([truth[n] == "track" for n in names[24:]])
    assert p_track[is_track].mean() > 0.7 and p_track[~is_track].mean() < 0.3


@pytest.mark.parametrize("line_features", [False, True])
@torch.no_grad()
def test_the_head_starts_as_scikit_learns_probe(separable, line_features):
    image_dir, names, truth = separable
    saved = read_backbone(image_dir / "backbone.pt")
    extra = image_features(image_dir, names) if line_features else np.zeros((len(names), 0))
    model = TrackClassifier(
        saved["backbone"], CATS, saved["input_size"], foci_channel=saved["foci_channel"], n_extra=extra.shape[1]
    )
    model.backbone.load_state_dict(saved["state_dict"])
    mean, std = extra.mean(axis=0), extra.std(axis=0) + 1e-6
    model.extra_mean.copy_(torch.as_tensor(mean)), model.extra_std.copy_(torch.as_tensor(std))
    model.eval()
    images = load_images(image_dir, names, saved["input_size"], saved["foci_channel"])
    y = [CATS.index(truth[n]) for n in names]
    fit_linear_probe(model, images, y, c=1.0, extra=extra)
    x = torch.stack([eval_transform()(im) for im in images])
    ours = F.softmax(model(x, torch.as_tensor(extra, dtype=torch.float32)), dim=1).numpy()
    features = np.hstack([head_features(model.backbone(x).numpy()), (extra - mean) / std])
    theirs = linear_probe(features, y, 1.0).predict_proba(features)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
