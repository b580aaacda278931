"""Classical foci-and-line features: what a biologist looks for, measured.

A track is a line of 53BP1 foci; an X-ray or a sham exposure leaves foci scattered at random. A
network trained for minutes on a few hundred images learns brightness and texture as readily as
lines, and on a data set it was not tuned on those cues mislead it. These features measure the
line itself: the foci are found with scikit-image (white top-hat, then local maxima above the
image's own noise level), and the best straight line through them is the one that passes within
a few pixels of most foci, found by trying the line through every pair (RANSAC without the
randomness: with at most `MAX_FOCI` foci every pair is cheap, and the result is deterministic).
They are read from the full-resolution JPG, before any resizing blurs neighbouring foci together.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.feature import peak_local_max
from skimage.filters import gaussian
from skimage.morphology import disk, white_tophat

from bps_labeler.errors import InputError

#: Radius of the top-hat's disk in image pixels: wider than a focus, narrower than the shading.
TOPHAT_RADIUS = 3
#: A focus stands this many robust standard deviations above the top-hat's background (chosen on
#: the built-in data set: 12 to 28 all separate tracks well there; benchmarks/line_features.py).
THRESHOLD_SIGMAS = 16.0
#: Foci closer than this (pixels) are one focus.
MIN_DISTANCE = 3
#: The brightest foci kept; more is a saturated or very busy nucleus either way.
MAX_FOCI = 60
#: A focus is on a line if it lies within this many pixels of it.
LINE_TOLERANCE = 2.5

NAMES: tuple[str, ...] = ("log_foci", "line_foci", "line_share", "line_extent", "line_excess")


def detect_foci(gray: np.ndarray) -> np.ndarray:
    """(n, 2) row, column positions of the foci in a grayscale image, brightest first."""
    hat = gaussian(white_tophat(gray.astype(np.float32), disk(TOPHAT_RADIUS)), sigma=1.0, preserve_range=True)
    median = float(np.median(hat))
    spread = 1.4826 * float(np.median(np.abs(hat - median))) + 1e-3
    return peak_local_max(
        hat,
        min_distance=MIN_DISTANCE,
        threshold_abs=median + THRESHOLD_SIGMAS * spread,
        num_peaks=MAX_FOCI,
        exclude_border=False,
    )


def best_line(points: np.ndarray) -> tuple[int, float]:
    """(foci on the best line, their extent along it in pixels) over lines through two foci."""
    n = len(points)
    if n < 2:
        return n, 0.0
    i, j = np.triu_indices(n, k=1)
    direction = points[j] - points[i]
    direction = direction / (np.linalg.norm(direction, axis=1, keepdims=True) + 1e-9)
    normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1)
    offsets = points[None, :, :] - points[i][:, None, :]  # pairs x points x 2
    on_line = np.abs(np.einsum("pkd,pd->pk", offsets, normal)) <= LINE_TOLERANCE
    counts = on_line.sum(axis=1)
    best = int(np.argmax(counts))
    along = np.einsum("kd,d->k", offsets[best], direction[best])[on_line[best]]
    return int(counts[best]), float(along.max() - along.min())


def line_features(gray: np.ndarray) -> np.ndarray:
    """The `NAMES` features of one grayscale image.

    `line_excess` is the foci on the best line beyond what the same number of foci scattered
    at random over the image would put on a line of the same width (the X-ray case).
    """
    points = detect_foci(gray).astype(np.float64)
    n = len(points)
    on_line, extent = best_line(points)
    diagonal = float(np.hypot(*gray.shape))
    # a band 2 * tolerance wide across the image covers about this share of it
    chance = 2 + (n - 2) * min(1.0, 2 * LINE_TOLERANCE * diagonal / (gray.shape[0] * gray.shape[1])) if n >= 2 else n
    return np.array([np.log1p(n), on_line, on_line / max(n, 1), extent / diagonal, on_line - chance], dtype=np.float64)


def image_features(image_dir: Path, filenames: Sequence[str], threads: int = 1) -> np.ndarray:
    """(n_images, len(NAMES)) line features of JPGs at their full resolution.

    On `threads` threads: the top-hat and the peak search run in scikit-image's and SciPy's C
    code, which lets other threads run, so two cores give about 1.7 times one (the same numbers,
    in the same order; benchmarks/embed_limit.py times the prediction pass with them).
    """
    paths = [Path(image_dir) / name for name in filenames]
    if threads > 1 and len(paths) > 1:
        with ThreadPoolExecutor(threads) as pool:
            rows = list(pool.map(_features_of, paths))
    else:
        rows = [_features_of(path) for path in paths]
    return np.stack(rows) if rows else np.zeros((0, len(NAMES)))


def _features_of(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            gray = np.asarray(im.convert("L"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: image missing; rerun the convert step (snakemake will).") from exc
    return line_features(gray)
