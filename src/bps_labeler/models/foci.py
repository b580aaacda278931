"""Classical foci-and-line features: what a biologist looks for, measured.

A track is a line of 53BP1 foci; an X-ray or a sham exposure leaves foci scattered at random. A
network trained for minutes on a few hundred images learns brightness and texture as readily as
lines, and on a data set it was not tuned on those cues mislead it. These features measure the
line itself: the foci are found with scikit-image (white top-hat, then local maxima above the
image's own noise level), and the best straight line through them is the one that passes within
a few pixels of most foci, found by trying the line through every pair (RANSAC without the
randomness: with at most `MAX_FOCI` foci every pair is cheap, and the result is deterministic).
They are read from the full-resolution JPG, before any resizing blurs neighbouring foci together.

Late, faint or gappy tracks have foci below the bright threshold, so the same line is looked for
again among fainter foci, and once more without finding foci at all: the Radon transform of the
top-hat sums its signal along every line, and a track is one line that holds much of it.
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
from skimage.transform import radon

from bps_labeler.errors import InputError

#: Radius of the top-hat's disk in image pixels: wider than a focus, narrower than the shading.
TOPHAT_RADIUS = 3
#: A focus stands this many robust standard deviations above the top-hat's background (chosen on
#: the built-in data set: 12 to 28 all separate tracks well there; benchmarks/line_features.py).
THRESHOLD_SIGMAS = 16.0
#: The second, fainter look: foci of late (24 h, 48 h) tracks that have faded below the first.
FAINT_SIGMAS = 8.0
#: Foci closer than this (pixels) are one focus.
MIN_DISTANCE = 3
#: The brightest foci kept; more is a saturated or very busy nucleus either way.
MAX_FOCI = 60
#: A focus is on a line if it lies within this many pixels of it.
LINE_TOLERANCE = 2.5

#: The Radon transform runs on the top-hat shrunk to about this many pixels a side, in steps of
#: this many degrees: a line of foci stays a line, and it costs about 5 ms an image.
RADON_SIZE = 64
RADON_STEP = 4
#: Top-hat values are robust z-scores clipped here, so one saturated blob is not a line.
RADON_CLIP = 50.0

#: Bright foci first (checkpoints from before the others read only these five), then the same
#: at `FAINT_SIGMAS`, then the Radon transform's.
NAMES: tuple[str, ...] = (
    "log_foci",
    "line_foci",
    "line_share",
    "line_extent",
    "line_excess",
    "faint_log_foci",
    "faint_line_foci",
    "faint_line_share",
    "faint_line_extent",
    "faint_line_excess",
    "radon_share",
    "radon_contrast",
)


def foci_signal(gray: np.ndarray) -> np.ndarray:
    """The top-hat of a grayscale image in robust standard deviations of its background: spots
    the size of a focus stand out, the nucleus's shading and the camera's offset do not."""
    hat = gaussian(white_tophat(gray.astype(np.float32), disk(TOPHAT_RADIUS)), sigma=1.0, preserve_range=True)
    median = float(np.median(hat))
    spread = 1.4826 * float(np.median(np.abs(hat - median))) + 1e-3
    return (hat - median) / spread


def detect_foci(gray: np.ndarray, sigmas: float = THRESHOLD_SIGMAS, signal: np.ndarray | None = None) -> np.ndarray:
    """(n, 2) row, column positions of the foci in a grayscale image, brightest first.

    `signal` is `foci_signal(gray)` when the caller has it already.
    """
    signal = foci_signal(gray) if signal is None else signal
    return peak_local_max(
        signal, min_distance=MIN_DISTANCE, threshold_abs=sigmas, num_peaks=MAX_FOCI, exclude_border=False
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


def line_of_foci(points: np.ndarray, shape: tuple[int, ...]) -> list[float]:
    """log(1 + foci), foci on the best line, their share, the line's extent over the diagonal,
    and `excess`: the foci on the line beyond what the same number scattered at random over the
    image would put on a line of the same width (the X-ray case)."""
    n = len(points)
    on_line, extent = best_line(points.astype(np.float64))
    diagonal = float(np.hypot(*shape[:2]))
    # a band 2 * tolerance wide across the image covers about this share of it
    chance = 2 + (n - 2) * min(1.0, 2 * LINE_TOLERANCE * diagonal / (shape[0] * shape[1])) if n >= 2 else n
    return [float(np.log1p(n)), float(on_line), on_line / max(n, 1), extent / diagonal, on_line - chance]


def radon_line(signal: np.ndarray) -> list[float]:
    """(share, contrast) of the brightest line through the foci signal, with no focus detected.

    share: the best line's sum over the whole signal (a track holds much of it, scattered foci
    little). contrast: how far the best angle's strongest line stands above a typical angle's
    (one direction for a track, none for foci at random).
    """
    z = np.clip(signal, 0.0, RADON_CLIP)
    f = max(1, round(max(z.shape) / RADON_SIZE))
    if f > 1:
        rows, cols = z.shape[0] // f * f, z.shape[1] // f * f
        z = z[:rows, :cols].reshape(rows // f, f, cols // f, f).mean(axis=(1, 3))
    peaks = radon(z, theta=np.arange(0.0, 180.0, RADON_STEP), circle=False).max(axis=0)
    typical = float(np.median(peaks))
    return [float(peaks.max() / (z.sum() + 1e-6)), float((peaks.max() - typical) / (typical + 1e-6))]


def line_features(gray: np.ndarray) -> np.ndarray:
    """The `NAMES` features of one grayscale image."""
    signal = foci_signal(gray)
    bright = line_of_foci(detect_foci(gray, THRESHOLD_SIGMAS, signal), gray.shape)
    faint = line_of_foci(detect_foci(gray, FAINT_SIGMAS, signal), gray.shape)
    return np.array([*bright, *faint, *radon_line(signal)], dtype=np.float64)


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
