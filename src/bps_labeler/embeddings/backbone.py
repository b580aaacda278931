"""The backbone network and the features it computes, shared by SimCLR and the classifier.

No pretrained weights are downloaded: a torchvision ResNet with `weights=None` is trained on the
pool itself, which is what makes the pipeline run offline and fit microscopy rather than ImageNet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torchvision.transforms import v2 as T

from bps_labeler.data.images import ImageList, chunks, load_images
from bps_labeler.errors import InputError

NORMALIZE = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


BACKBONES = ("resnet18", "resnet34", "resnet50")


def make_backbone(name: str) -> tuple[nn.Module, int]:
    """A torchvision ResNet without its classifier and without downloaded weights."""
    if name not in BACKBONES:
        raise ValueError(f"embed.backbone = {name!r}; allowed: {', '.join(BACKBONES)}")
    net = getattr(torchvision.models, name)(weights=None)
    n_features = net.fc.in_features
    net.fc = nn.Identity()
    return net, n_features


def read_backbone(path: Path) -> dict:
    """The saved backbone: `backbone` (name), `state_dict`, and how its input was made.

    The input recipe (`input_size`, `foci_channel`) travels with the weights and is the only
    place the classifier and the benchmarks take it from, so nothing can feed a backbone images
    made differently from those it was trained on.
    """
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if "input_size" not in saved or "foci_channel" not in saved:
        raise InputError(
            f"{path}: this backbone was saved before backbones recorded their input size and "
            "channels. Delete it and rerun the embed rule (snakemake rebuilds it)."
        )
    return saved


def load_backbone(path: Path) -> tuple[nn.Module, dict]:
    """The trained network and its `read_backbone` record."""
    saved = read_backbone(path)
    net, _ = make_backbone(saved["backbone"])
    net.load_state_dict(saved["state_dict"])
    return net, saved


def eval_transform() -> T.Compose:
    return T.Compose([T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize(**NORMALIZE)])


@torch.no_grad()
def features(backbone: nn.Module, images: list, batch_size: int = 256) -> np.ndarray:
    """Backbone features of images (eval mode, no augmentation)."""
    backbone.eval()
    loader = DataLoader(ImageList(images, eval_transform()), batch_size=batch_size, shuffle=False)
    return np.concatenate([backbone(x).numpy() for x, _ in loader]).astype(np.float32)


def features_of_files(
    backbone: nn.Module, image_dir: Path, filenames: list[str], input_size: int, foci_channel: bool
) -> np.ndarray:
    """Backbone features of image files, decoded a chunk at a time (images.CHUNK): a pool of
    any size costs the memory of one chunk, not of every image."""
    parts = [features(backbone, load_images(image_dir, part, input_size, foci_channel)) for part in chunks(filenames)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
