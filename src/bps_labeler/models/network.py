"""The track / no-track network, and its predictions, without Lightning.

Predicting is most of what a model is used for (every round's pool, a lab's new images), so the
network and how it is applied live here, with torch alone; `classifier` adds Lightning's training
on top. A checkpoint written by the classifier loads here (`load_network`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from bps_labeler.data.images import ImageList, chunks, load_images
from bps_labeler.embeddings.backbone import eval_transform, make_backbone
from bps_labeler.models.conditions import Levels, condition_features
from bps_labeler.models.foci import image_features

FEATURE_SCALE = 10.0


class TrackNet(nn.Module):
    """ResNet backbone + linear head on L2-normalised features; `forward` returns logits.

    The backbone always runs in eval mode: its batch-norm statistics stay those learned on the
    whole pool, which batches of 16 labeled images would only corrupt. With `backbone_lr == 0`
    its weights are frozen too (a pure linear probe).

    With `n_extra` > 0 the head also reads that many classical features per image (the foci and
    the best line through them, `bps_labeler.models.foci`), standardised with the training labels' mean
    and spread, which the checkpoint keeps: the learned features alone follow one generator's
    brightness and texture, the line is what a track is.

    With `condition_levels` the head reads the image's condition too, as one-hot levels after
    the classical features (`bps_labeler.models.conditions`), not standardised: all zeros, an
    unknown condition, then shifts nothing.
    """

    def __init__(
        self,
        backbone: str,
        categories: tuple[str, ...],
        input_size: int,
        foci_channel: bool = False,
        n_extra: int = 0,
        condition_levels: Levels | None = None,
    ) -> None:
        super().__init__()
        self.categories = tuple(categories)
        self.input_size = input_size
        self.foci_channel = foci_channel
        self.n_extra = n_extra
        self.condition_levels: Levels = [(str(c), [str(v) for v in vs]) for c, vs in condition_levels or []]
        self.n_condition = sum(len(vs) for _, vs in self.condition_levels)
        self.backbone, n = make_backbone(backbone)
        self.head = nn.Linear(n + n_extra + self.n_condition, len(categories))
        self.register_buffer("extra_mean", torch.zeros(n_extra))
        self.register_buffer("extra_std", torch.ones(n_extra))

    def train(self, mode: bool = True) -> TrackNet:
        super().train(mode)
        self.backbone.eval()
        return self

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The head's input: L2-normalised backbone features, scaled so logits can be confident."""
        return F.normalize(self.backbone(x), dim=1) * FEATURE_SCALE

    def features(self, x: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        """Everything the head reads: learned features, the standardised classical ones, then the
        condition's levels (`extra` holds the classical features, then the levels)."""
        extra = extra.to(x.dtype)
        classical = (extra[:, : self.n_extra] - self.extra_mean) / self.extra_std
        return torch.cat([self.embed(x), classical, extra[:, self.n_extra :]], dim=1)

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        if extra is None:
            extra = torch.zeros(len(x), self.n_extra + self.n_condition, device=x.device)
        return self.head(self.features(x, extra))


def load_network(ckpt: Path) -> TrackNet:
    """The network of a classifier checkpoint, read with torch alone (weights only, no pickled code)."""
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    hp = saved["hyper_parameters"]
    net = TrackNet(
        hp["backbone"],
        tuple(hp["categories"]),
        hp["input_size"],
        hp.get("foci_channel", False),
        hp.get("n_extra", 0),
        hp.get("condition_levels"),
    )
    own = net.state_dict()
    net.load_state_dict({k: v for k, v in saved["state_dict"].items() if k in own})
    return net.eval()


class WithExtra(Dataset):
    """An ImageList's items with each image's classical features: ((image, features), label)."""

    def __init__(self, images: ImageList, extra: np.ndarray) -> None:
        self.images = images
        self.extra = torch.as_tensor(extra, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[tuple[object, torch.Tensor], int]:
        x, y = self.images[i]
        return (x, self.extra[i]), y


def line_features(image_dir: Path, filenames: list[str], count: int, threads: int = 1) -> np.ndarray:
    """The first `count` classical features (`foci.NAMES`) of the images: a model reads the ones
    it was trained on, so a checkpoint from before later features were added still predicts as
    it did (0: a model without them)."""
    if not count:
        return np.zeros((len(filenames), 0))
    return image_features(image_dir, filenames, threads)[:, :count]


def head_inputs(
    image_dir: Path,
    paths: list[str],
    count: int,
    levels: Levels,
    conditions: pd.DataFrame | None,
    names: list[str] | None = None,
    threads: int = 1,
) -> np.ndarray:
    """What the head reads besides the learned features: the first `count` classical features,
    then the condition's `levels`, from `conditions` (indexed by JPG name; None: no offset) at
    `names` (default: `paths`, when they are the pipeline's JPG names)."""
    classical = line_features(image_dir, paths, count, threads)
    return np.hstack([classical, condition_features(conditions, paths if names is None else names, levels)])


@torch.no_grad()
def predict_proba(
    model: TrackNet,
    image_dir: Path,
    filenames: list[str],
    threads: int = 1,
    device: str = "cpu",
    conditions: pd.DataFrame | None = None,
) -> np.ndarray:
    """Class probabilities (softmax of the logits) for every image, in order; the network runs
    on `device` ("cuda" with `accelerator: gpu`), decoding and features on the CPU. A model that
    reads the condition takes it from `conditions` (metadata indexed by JPG name)."""
    torch.set_num_threads(max(1, threads))
    model.eval().to(device)
    parts = []
    for part in chunks(filenames):  # a chunk of images in memory at a time, whatever the pool
        images = load_images(image_dir, part, model.input_size, model.foci_channel, threads)
        extra = head_inputs(image_dir, part, model.n_extra, model.condition_levels, conditions, threads=threads)
        loader = DataLoader(WithExtra(ImageList(images, eval_transform()), extra), batch_size=256, shuffle=False)
        parts += [F.softmax(model(x.to(device), e.to(device)), dim=1).cpu().numpy() for (x, e), _ in loader]
    model.to("cpu")
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, len(model.categories)))
