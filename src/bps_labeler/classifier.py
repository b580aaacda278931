"""The track / no-track classifier: fine-tuned from the self-supervised backbone.

Fixes the old tutorial's mistakes: the network returns logits and the loss is plain
cross-entropy (no softmax before it), images are decoded once, output folders are created,
and only current Lightning arguments are used.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, roc_auc_score
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torchvision.transforms import v2 as T

from bps_labeler.embed import NORMALIZE, eval_transform, make_backbone
from bps_labeler.errors import InputError
from bps_labeler.images import ImageList, load_images

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSpec:
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    backbone_lr: float = 1e-4
    seed: int = 0
    accelerator: str = "cpu"


class TrackClassifier(L.LightningModule):
    """ResNet backbone + linear head; `forward` returns logits."""

    def __init__(
        self,
        backbone: str,
        categories: tuple[str, ...],
        input_size: int,
        lr: float = 1e-3,
        backbone_lr: float = 1e-4,
        class_weights: list[float] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.backbone, n = make_backbone(backbone)
        self.head = nn.Linear(n, len(categories))
        weights = torch.tensor(class_weights or [1.0] * len(categories), dtype=torch.float32)
        self.register_buffer("class_weights", weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y, weight=self.class_weights)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def configure_optimizers(self):  # type: ignore[override]
        opt = torch.optim.AdamW(
            [
                {"params": self.backbone.parameters(), "lr": self.hparams.backbone_lr},
                {"params": self.head.parameters(), "lr": self.hparams.lr},
            ],
            weight_decay=1e-4,
        )
        return opt


def train_transform(input_size: int) -> T.Compose:
    """Augment with what does not change the answer: a track stays a track when turned."""
    return T.Compose(
        [
            T.ToImage(),
            T.RandomResizedCrop(input_size, scale=(0.7, 1.0), ratio=(0.9, 1.1), antialias=True),
            T.RandomHorizontalFlip(),
            T.RandomVerticalFlip(),
            T.RandomChoice([T.RandomRotation((a, a)) for a in (0, 90, 180, 270)]),
            T.ColorJitter(brightness=0.2, contrast=0.2),
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
    input_size: int,
    spec: TrainSpec,
    out_ckpt: Path,
    threads: int = 1,
) -> TrackClassifier:
    """Fine-tune on `labels` (JPG name -> category) and save a Lightning checkpoint."""
    if not labels:
        raise InputError("no labeled images to train on; check the round's annotations.")
    torch.set_num_threads(max(1, threads))
    L.seed_everything(spec.seed, workers=True, verbose=False)
    names, y = _label_indices(labels, categories)
    counts = np.bincount(y, minlength=len(categories)).astype(np.float64)
    # Inverse-frequency weights; a class with no label yet keeps weight 1 so the loss stays finite.
    weights = [float(len(y) / (len(categories) * c)) if c else 1.0 for c in counts]
    saved = torch.load(backbone_path, map_location="cpu", weights_only=True)
    model = TrackClassifier(saved["backbone"], categories, input_size, spec.lr, spec.backbone_lr, weights)
    model.backbone.load_state_dict(saved["state_dict"])
    images = load_images(image_dir, names, input_size)
    loader = DataLoader(
        ImageList(images, train_transform(input_size), y),
        batch_size=min(spec.batch_size, len(names)),
        shuffle=True,
        generator=torch.Generator().manual_seed(spec.seed),
    )
    trainer = L.Trainer(
        max_epochs=spec.epochs,
        accelerator=spec.accelerator,
        devices=1,
        deterministic=True,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, loader)
    out_ckpt.parent.mkdir(parents=True, exist_ok=True)
    trainer.save_checkpoint(out_ckpt)
    log.info("trained on %d labels (%s), final loss %s", len(names),
             dict(zip(categories, counts.astype(int).tolist())), trainer.callback_metrics.get("train_loss"))
    return model


def load(ckpt: Path) -> TrackClassifier:
    return TrackClassifier.load_from_checkpoint(ckpt, map_location="cpu", weights_only=False)


@torch.no_grad()
def predict_proba(model: TrackClassifier, image_dir: Path, filenames: list[str], threads: int = 1) -> np.ndarray:
    """Class probabilities (softmax of the logits) for every image, in order."""
    torch.set_num_threads(max(1, threads))
    model.eval()
    images = load_images(image_dir, filenames, model.hparams.input_size)
    loader = DataLoader(ImageList(images, eval_transform()), batch_size=256, shuffle=False)
    return np.concatenate([F.softmax(model(x), dim=1).numpy() for x, _ in loader]).astype(np.float64)


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
    return out


def write_metrics(values: dict[str, object], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=1, sort_keys=True) + "\n")
