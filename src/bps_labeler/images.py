"""Loading converted JPGs for the models.

Each image is decoded once into a small uint8 array and kept in memory: the pools this pipeline
trains on are thousands of images of about 150 px, and the old tutorial's habit of decoding every
image twice per epoch was its main cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from bps_labeler.errors import InputError


def load_images(image_dir: Path, filenames: Sequence[str], size: int) -> list[Image.Image]:
    """Decode and resize images to `size` x `size` (grayscale, stored as RGB for the ResNet)."""
    out = []
    for name in filenames:
        path = Path(image_dir) / name
        try:
            with Image.open(path) as im:
                im = im.convert("L").resize((size, size), Image.Resampling.BILINEAR)
        except FileNotFoundError as exc:
            raise InputError(f"{path}: image missing; rerun the convert step (snakemake will).") from exc
        out.append(im.convert("RGB"))
    return out


class ImageList(Dataset):
    """Images in memory with optional labels; `transform` maps a PIL image to a tensor (or views)."""

    def __init__(
        self,
        images: Sequence[Image.Image],
        transform: Callable[[Image.Image], object],
        labels: Sequence[int] | None = None,
    ) -> None:
        self.images = list(images)
        self.transform = transform
        self.labels = None if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[object, int]:
        label = -1 if self.labels is None else int(self.labels[i])
        return self.transform(self.images[i]), label
