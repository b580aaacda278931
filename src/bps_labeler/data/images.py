"""Loading converted JPGs for the models.

Images a model trains on are decoded once and kept in memory: the old tutorial's habit of
decoding every image twice per epoch was its main cost. Images that are only read once (a whole
pool embedded or predicted) are decoded a chunk at a time, so memory stays flat at any pool size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from torch.utils.data import Dataset

from bps_labeler.errors import InputError

#: Side of the top-hat's square element in model-input pixels: wider than a focus, narrower
#: than the nucleus' smooth shading.
FOCI_ELEMENT = 5
#: Gain on the top-hat so foci fill the channel's range after the percentile stretch.
FOCI_GAIN = 2.0


def foci_map(gray: np.ndarray) -> np.ndarray:
    """White top-hat of a grayscale image: the bright spots smaller than `FOCI_ELEMENT`.

    53BP1 foci are a few pixels on a bright, textured nucleus; to a network trained for a few
    minutes the nucleus' brightness and texture dominate. The top-hat (the classic first step of
    foci counting) removes the smooth signal and keeps the foci, so the model sees them directly.
    """
    hat = ndimage.white_tophat(gray.astype(np.float32), size=FOCI_ELEMENT)
    return np.clip(hat * FOCI_GAIN, 0, 255).astype(np.uint8)


def load_images(
    image_dir: Path, filenames: Sequence[str], size: int, foci_channel: bool = False, threads: int = 1
) -> list[Image.Image]:
    """Decode and resize images to `size` x `size`, as 3-channel images for the ResNet.

    The channels are the grayscale image three times or, with `foci_channel`, the grayscale image
    and its `foci_map` twice. On `threads` threads (Pillow's decoding and SciPy's top-hat let
    other threads run), in the order given.
    """

    def one(name: str) -> Image.Image:
        path = Path(image_dir) / name
        try:
            with Image.open(path) as im:
                im = im.convert("L").resize((size, size), Image.Resampling.BILINEAR)
        except FileNotFoundError as exc:
            raise InputError(f"{path}: image missing; rerun the convert step (snakemake will).") from exc
        if foci_channel:
            gray = np.asarray(im)
            foci = foci_map(gray)
            return Image.fromarray(np.stack([gray, foci, foci], axis=-1))
        return im.convert("RGB")

    if threads > 1 and len(filenames) > 1:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, filenames))
    return [one(name) for name in filenames]


#: Images decoded and held at once when a pool is read once: about 100 MB at 128 px.
CHUNK = 2048


def chunks(filenames: Sequence[str], size: int = CHUNK) -> list[list[str]]:
    """`filenames` in consecutive pieces of at most `size`, in order."""
    return [list(filenames[i : i + size]) for i in range(0, len(filenames), size)]


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
