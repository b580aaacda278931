"""The track / no-track classifier: fine-tuned from the self-supervised backbone.

Fixes the old tutorial's mistakes: the network returns logits and the loss is plain
cross-entropy (no softmax before it), images are decoded once, output folders are created,
and only current Lightning arguments are used.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.loggers import Logger
from sklearn.linear_model import LogisticRegression
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torchvision.transforms import v2 as T

from bps_labeler.data.images import ImageList, load_images
from bps_labeler.embeddings.backbone import NORMALIZE, eval_transform, read_backbone
from bps_labeler.errors import InputError
from bps_labeler.models.conditions import Levels, condition_features, condition_levels
from bps_labeler.models.foci import NAMES
from bps_labeler.models.network import FEATURE_SCALE, TrackNet, WithExtra, line_features
from bps_labeler.utils.accelerator import check_accelerator
from bps_labeler.utils.epoch_progress import quiet_trainer
from bps_labeler.utils.files import write_or_explain

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSpec:
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    backbone_lr: float = 1e-5
    #: Inverse L2 strength of the linear probe that initialises the head. 0.1 rather than
    #: scikit-learn's 1.0: uncertainty-picked rounds are hard images, and a weakly regularised
    #: probe bends to them and ranks the easy ones worse (benchmarks/probe_c.py).
    probe_c: float = 0.1
    #: Give the head the classical foci-and-line features (bps_labeler.models.foci) beside the learned ones.
    line_features: bool = True
    #: Where the head's decision sits: `argmax` of the fine-tuned head, or `cross_validated`:
    #: the head refitted on the fine-tuned features with its threshold where the training labels'
    #: out-of-fold scores give the best balanced accuracy (cross_validated_threshold).
    threshold: str = "argmax"
    #: Metadata columns whose levels the head reads (bps_labeler.models.conditions): the same
    #: faint line is a track more often late or at a high dose. Empty: the image alone.
    condition_features: tuple[str, ...] = ()
    seed: int = 0
    accelerator: str = "cpu"


class TrackClassifier(TrackNet, L.LightningModule):
    """The network (`TrackNet`) with Lightning's training: class-weighted cross-entropy, AdamW.

    The backbone always runs in eval mode: its batch-norm statistics stay those learned on the
    whole pool, which batches of 16 labeled images would only corrupt. With `backbone_lr == 0`
    its weights are frozen too (a pure linear probe).
    """

    def __init__(
        self,
        backbone: str,
        categories: tuple[str, ...],
        input_size: int,
        lr: float = 1e-3,
        backbone_lr: float = 1e-5,
        class_weights: list[float] | None = None,
        foci_channel: bool = False,
        n_extra: int = 0,
        condition_levels: Levels | None = None,
    ) -> None:
        super().__init__(backbone, categories, input_size, foci_channel, n_extra, condition_levels)
        self.save_hyperparameters()
        weights = torch.tensor(class_weights or [1.0] * len(categories), dtype=torch.float32)
        self.register_buffer("class_weights", weights)
        self.frozen = backbone_lr == 0
        if self.frozen:
            self.backbone.requires_grad_(False)

    def training_step(self, batch: tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor], _: int) -> torch.Tensor:
        (x, extra), y = batch
        loss = F.cross_entropy(self(x, extra), y, weight=self.class_weights)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def configure_optimizers(self):  # type: ignore[override]
        groups = [{"params": self.head.parameters(), "lr": self.hparams.lr}]
        if not self.frozen:
            groups.append({"params": self.backbone.parameters(), "lr": self.hparams.backbone_lr})
        return torch.optim.AdamW(groups, weight_decay=1e-4)


def train_transform() -> T.Compose:
    """Augment with what changes neither the answer nor the image statistics: flips and turns.

    A track stays a track when turned; crops and contrast changes would also shift the frozen
    backbone's features away from those seen at prediction time, and tilt the decision threshold.
    """
    return T.Compose(
        [
            T.ToImage(),
            T.RandomHorizontalFlip(),
            T.RandomVerticalFlip(),
            T.RandomChoice([T.RandomRotation((a, a)) for a in (0, 90, 180, 270)]),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(**NORMALIZE),
        ]
    )


def _label_indices(labels: dict[str, str], categories: tuple[str, ...]) -> tuple[list[str], list[int]]:
    names = sorted(labels)
    return names, [categories.index(labels[n]) for n in names]


def train(
    image_dir: Path,
    labels: dict[str, str],
    backbone_path: Path,
    categories: tuple[str, ...],
    spec: TrainSpec,
    out_ckpt: Path,
    threads: int = 1,
    log_dir: Path | None = None,
    trackers: Sequence[Logger] = (),
    label_files: tuple[str, ...] = (),
    conditions: pd.DataFrame | None = None,
) -> TrackClassifier:
    """Fine-tune on `labels` (JPG name -> category) and save a Lightning checkpoint.

    The images are made as the backbone's were (its recorded size and channels). `label_files`
    only names where the labels came from when there are none. `conditions` (metadata indexed by
    JPG name) gives the levels of `spec.condition_features`.
    """
    if not labels:
        where = ", ".join(label_files) or "the round's annotations"
        raise InputError(
            f"no labeled images to train on: {where} hold no label (every image skipped?) and no "
            "rule's label was added (train.rule_labels). Label some images, or set train.rule_labels."
        )
    check_accelerator(spec.accelerator)
    torch.set_num_threads(max(1, threads))
    L.seed_everything(spec.seed, workers=True, verbose=False)
    names, y = _label_indices(labels, categories)
    counts = np.bincount(y, minlength=len(categories)).astype(np.float64)
    # Inverse-frequency weights; a class with no label yet keeps weight 1 so the loss stays finite.
    weights = [float(len(y) / (len(categories) * c)) if c else 1.0 for c in counts]
    saved = read_backbone(backbone_path)
    classical = line_features(image_dir, names, len(NAMES) if spec.line_features else 0, threads)
    levels = training_levels(conditions, names, spec.condition_features)
    extra = np.hstack([classical, condition_features(conditions, names, levels)])
    model = TrackClassifier(
        saved["backbone"],
        categories,
        saved["input_size"],
        spec.lr,
        spec.backbone_lr,
        weights,
        saved["foci_channel"],
        classical.shape[1],
        levels,
    )
    model.backbone.load_state_dict(saved["state_dict"])
    with torch.no_grad():
        model.extra_mean.copy_(torch.as_tensor(classical.mean(axis=0), dtype=torch.float32))
        model.extra_std.copy_(torch.as_tensor(classical.std(axis=0) + 1e-6, dtype=torch.float32))
    images = load_images(image_dir, names, saved["input_size"], saved["foci_channel"], threads)
    fit_linear_probe(model, images, y, spec.probe_c, extra)
    model.train()
    loader = DataLoader(
        WithExtra(ImageList(images, train_transform(), y), extra),
        batch_size=min(spec.batch_size, len(names)),
        shuffle=True,
        generator=torch.Generator().manual_seed(spec.seed),
    )
    trainer = quiet_trainer(
        spec.epochs, spec.accelerator, log_dir, f"fine-tuning on {len(names)} labels", log, trackers
    )
    with warnings.catch_warnings():  # the backbone is in eval mode on purpose (see TrackClassifier)
        warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode", module="lightning")
        trainer.fit(model, loader)
    if spec.threshold == "cross_validated":
        refit_head(model, images, y, spec.probe_c, extra, spec.seed)
    # Weights only: Adam's two moments per weight would triple the file (134 MB for ResNet-18)
    # and nothing resumes a round's training; every round starts again from the backbone.
    write_or_explain(out_ckpt, lambda path: trainer.save_checkpoint(path, weights_only=True))
    log.info(
        "trained on %d labels (%s), final loss %s",
        len(names),
        dict(zip(categories, counts.astype(int).tolist())),
        trainer.callback_metrics.get("train_loss"),
    )
    return model


def training_levels(conditions: pd.DataFrame | None, names: list[str], columns: Sequence[str]) -> Levels:
    """The condition levels the head will read, or an error that says which metadata is missing."""
    if not columns:
        return []
    if conditions is None:
        raise InputError(f"train.condition_features {list(columns)}: no metadata was given to read them from.")
    unknown = [n for n in names if n not in conditions.index]
    if unknown:
        raise InputError(
            f"train.condition_features: {len(unknown)} labeled image(s) not in the metadata, e.g. {unknown[:3]}; "
            "label images of the pool's meta.csv, or set train.condition_features: []."
        )
    try:
        levels = condition_levels(conditions, names, columns)
    except KeyError as e:
        raise InputError(f"train.condition_features: {e.args[0]}; name columns of meta.csv.") from None
    if levels:
        log.info("the head reads the condition: %s", "; ".join(f"{c} {v}" for c, v in levels))
    return levels


def head_features(features: np.ndarray) -> np.ndarray:
    """Backbone features as the head sees them (`TrackClassifier.embed`), for probes outside it."""
    return features / np.linalg.norm(features, axis=1, keepdims=True) * FEATURE_SCALE


def linear_probe(features: np.ndarray, y: list[int] | np.ndarray, c: float = 1.0) -> LogisticRegression:
    """Class-balanced logistic regression on frozen features.

    Balanced because a round's labels are rarely balanced (tracks are a minority) and the pipeline
    is judged by balanced accuracy; the benchmarks use this same probe so that their figures say
    something about the pipeline's model.
    """
    return LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(features, y)


def cross_validated_threshold(features: np.ndarray, y: np.ndarray, c: float, seed: int = 0) -> float:
    """The probe's decision value above which an image is called class 1, chosen on the
    training labels' out-of-fold decision values (stratified k-fold, k up to 5).

    A probe fitted on 48 tracks and 2 images without one ranks well but puts its threshold next
    to the two it saw: the unseen ones fall on the track side. Out of fold, each label is scored
    by a probe that did not see it, as the pool's images are, so the threshold with the best
    balanced accuracy there is one the training labels alone justify (no validation image is
    used). 0 (the probe's own) when a class has fewer than 2 labels; ties go to the value
    nearest 0.
    """
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    smallest = int(np.bincount(y, minlength=2).min())
    if smallest < 2:
        return 0.0
    oof = np.zeros(len(y))
    folds = StratifiedKFold(n_splits=min(5, smallest), shuffle=True, random_state=seed)
    for fit, held in folds.split(features, y):
        oof[held] = linear_probe(features[fit], y[fit], c).decision_function(features[held])
    values = np.unique(oof)
    candidates = np.concatenate([[values[0] - 1.0], (values[1:] + values[:-1]) / 2, [values[-1] + 1.0], [0.0]])
    positive, negative = y == 1, y == 0

    def balanced(t: float) -> float:
        return 0.5 * ((oof[positive] > t).mean() + (oof[negative] <= t).mean())

    scores = np.array([balanced(t) for t in candidates])
    best = candidates[np.isclose(scores, scores.max())]
    return float(best[np.argmin(np.abs(best))])


@torch.no_grad()
def refit_head(model: TrackClassifier, images: list, y: list[int], c: float, extra: np.ndarray, seed: int = 0) -> None:
    """Refit the head as a probe on the fine-tuned features, with the cross-validated threshold."""
    if model.head.out_features != 2:
        raise InputError("train.threshold: cross_validated needs two categories; use argmax.")
    if len(set(y)) < 2:  # the head fit_linear_probe set for one class stays
        return
    feats = _probe_features(model, images, extra)
    threshold = cross_validated_threshold(feats, np.asarray(y), c, seed)
    _set_head(model, linear_probe(feats, y, c), shift=threshold)
    log.info("head refitted on the fine-tuned features; threshold %+.3f from the labels' out-of-fold scores", threshold)


def _probe_features(model: TrackClassifier, images: list, extra: np.ndarray | None) -> np.ndarray:
    model.eval()
    extra = np.zeros((len(images), model.n_extra + model.n_condition)) if extra is None else extra
    loader = DataLoader(WithExtra(ImageList(images, eval_transform()), extra), batch_size=256, shuffle=False)
    return torch.cat([model.features(x, e) for (x, e), _ in loader]).numpy()


def _set_head(model: TrackClassifier, probe: LogisticRegression, shift: float = 0.0) -> None:
    """The head as the probe's logits; with two classes, class 1 from `shift` on."""
    if model.head.out_features == 2:  # scikit-learn keeps one vector for two classes: logit of class 1
        weight = np.stack([np.zeros_like(probe.coef_[0]), probe.coef_[0]])
        bias = np.array([0.0, probe.intercept_[0] - shift])
    else:
        weight, bias = probe.coef_, probe.intercept_
    model.head.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
    model.head.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))


@torch.no_grad()
def fit_linear_probe(
    model: TrackClassifier, images: list, y: list[int], c: float, extra: np.ndarray | None = None
) -> None:
    """Initialise the head with a class-balanced logistic regression on frozen features.

    Linear probing first, then fine-tuning (LP-FT), keeps the few labels from distorting the
    self-supervised features through a random head; scikit-learn finds the probe exactly.
    """
    feats = _probe_features(model, images, extra)
    if len(set(y)) < 2:
        log.warning("all %d labels are %r: the head predicts that class", len(y), model.hparams.categories[y[0]])
        model.head.weight.zero_()
        model.head.bias.fill_(-10.0)
        model.head.bias[y[0]] = 10.0
        return
    _set_head(model, linear_probe(feats, y, c))
