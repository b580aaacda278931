"""The conversion's loops over pixels and grey levels, compiled with Numba.

A BPS image is about 180 x 180 pixels, so each numpy call over it costs as much in its fixed
overhead and its temporary arrays as in arithmetic: the contrast stretch and the quality measures,
a few dozen numpy calls, took as long as decoding and encoding the image. Each loop here makes one
or two passes over the pixels, allocates only its result, and is written so that the compiler can
use vector instructions (no branches in the inner loops, 32-bit integers where they are exact).
The stretched pixels and the histogram's order statistics are those of the numpy code they
replace, bit for bit; sums are exact integers where numpy's float sums could lose digits
(tests/test_convert.py compares each with the numpy formula).

`cache=True` keeps the machine code beside this file (or in NUMBA_CACHE_DIR), so only the first
run on a machine compiles, about 4 seconds.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)

#: Levels are counted over at most this many values (16 bits); wider images take numpy's path.
MAX_LEVELS = 1 << 16


@_jit
def count_levels(arr: np.ndarray) -> tuple[np.ndarray, np.integer]:
    """How often each level from the image's minimum to its maximum occurs, and the minimum; no
    counts (an empty array) when the levels span more than MAX_LEVELS.

    Differences are taken in the image's own type, where they are exact; the span in 64 bits
    without sign, where it is exact for every integer type.
    """
    flat = arr.ravel()
    lo = flat[0]
    hi = flat[0]
    for k in range(flat.size):
        v = flat[k]
        lo = v if v < lo else lo
        hi = v if v > hi else hi
    span = np.uint64(hi) - np.uint64(lo)
    if span >= MAX_LEVELS:
        return np.zeros(0, np.int64), lo
    counts = np.zeros(np.int64(span) + 1, np.int64)
    for k in range(flat.size):
        counts[np.int64(flat[k] - lo)] += 1
    return counts, lo


@_jit
def percentiles(counts: np.ndarray, base: int, qs: np.ndarray) -> np.ndarray:
    """np.percentile's values: linear between the order statistics below and above each rank
    (an order statistic's level is the first whose cumulative count exceeds its rank).

    Each value is `float(base + below) + fraction * (above - below)`, in that order, as numpy's
    histogram version computed it: the threshold on the foreground then cuts where it did
    (taken from the base and shifted back, a threshold meant to be exactly a level came out a
    hair below it).
    """
    cdf = np.cumsum(counts)
    n = cdf[-1]
    out = np.empty(len(qs), np.float64)
    for j in range(len(qs)):
        rank = qs[j] / 100.0 * (n - 1)
        k = np.int64(np.floor(rank))
        below = np.searchsorted(cdf, k, side="right")
        above = np.searchsorted(cdf, min(k + 1, n - 1), side="right")
        out[j] = np.float64(base + below) + (rank - k) * (above - below)
    return out


@_jit
def stretch(arr: np.ndarray, base: np.integer, counts: np.ndarray, low_q: float, high_q: float) -> np.ndarray:
    """Map the image's low_q and high_q percentiles (nearest lower rank: levels that occur) to 0
    and 255, clipping outside, rounding half to even; all black when they are one level.

    Each pixel is `np.round((np.float32(level) - lo) * np.float32(255 / (hi - lo)))` in float32,
    as the lookup table of the numpy version computed it; level offsets are below 2**16, so
    exact in float32 and int32.
    """
    cdf = np.cumsum(counts)
    n = cdf[-1]
    lo = np.searchsorted(cdf, np.floor(low_q / 100.0 * (n - 1)), side="right")
    hi = np.searchsorted(cdf, np.floor(high_q / 100.0 * (n - 1)), side="right")
    flat = arr.ravel()
    out = np.zeros(flat.size, np.uint8)
    if hi > lo:
        scale = np.float32(255.0 / (hi - lo))
        offset = np.float32(lo)
        for k in range(flat.size):
            x = np.rint((np.float32(np.int32(flat[k] - base)) - offset) * scale)
            out[k] = np.uint8(min(max(x, np.float32(0.0)), np.float32(255.0)))
    return out.reshape(arr.shape)


@_jit
def split_moments(counts: np.ndarray, split: int) -> tuple[int, float, float, int, float]:
    """Pixel count, mean level and level variance of the levels below `split` (background), and
    pixel count and mean level from it up (foreground), levels counted from the histogram's base.

    An image all on one side has no split: the whole image stands for both, its counts as they
    are. Sums are integers, exact, so the variance loses no digits to large levels.
    """
    n_bg = s_bg = q_bg = n_fg = s_fg = q_fg = 0
    for i in range(len(counts)):
        c = counts[i]
        if i < split:
            n_bg += c
            s_bg += c * i
            q_bg += c * i * i
        else:
            n_fg += c
            s_fg += c * i
            q_fg += c * i * i
    if n_fg == 0 or n_bg == 0:
        n = n_bg + n_fg
        mean = (s_bg + s_fg) / n
        return n_bg, mean, (q_bg + q_fg) / n - mean * mean, n_fg, mean
    bg_mean = s_bg / n_bg
    return n_bg, bg_mean, q_bg / n_bg - bg_mean * bg_mean, n_fg, s_fg / n_fg


@_jit
def binned_laplacian_variance(out: np.ndarray) -> float:
    """Variance of the 5-point Laplacian of the 8-bit image binned 2 x 2 (sums of four pixels),
    summed in integers; 0.0 when the binned image is smaller than 3 x 3."""
    h, w = out.shape[0] // 2, out.shape[1] // 2
    if h < 3 or w < 3:
        return 0.0
    b = np.empty((h, w), np.int32)
    for i in range(h):
        top = out[2 * i]
        bottom = out[2 * i + 1]
        for j in range(w):
            left = np.int32(top[2 * j]) + np.int32(bottom[2 * j])
            b[i, j] = left + np.int32(top[2 * j + 1]) + np.int32(bottom[2 * j + 1])
    total = 0
    squares = 0
    for i in range(1, h - 1):
        for j in range(1, w - 1):
            lap = b[i - 1, j] + b[i + 1, j] + b[i, j - 1] + b[i, j + 1] - 4 * b[i, j]
            total += lap
            squares += np.int64(lap) * lap
    n = (h - 2) * (w - 2)
    mean = total / n
    return squares / n - mean * mean


@_jit
def frame_above(arr: np.ndarray, threshold: float, width: int) -> bool:
    """Whether any pixel within `width` of the image's edge is above `threshold`."""
    h, w = arr.shape
    for i in range(h):
        if i < width or i >= h - width:
            for j in range(w):
                if arr[i, j] > threshold:
                    return True
        else:
            for j in range(min(width, w)):
                if arr[i, j] > threshold or arr[i, w - 1 - j] > threshold:
                    return True
    return False


@numba.njit(cache=True, nogil=True, inline="always")
def _flood(
    arr: np.ndarray, threshold: float, seen: np.ndarray, rows: np.ndarray, cols: np.ndarray, i: int, j: int, width: int
) -> tuple[int, int]:
    """Mark the 4-connected component above `threshold` that holds pixel (i, j); return its size
    and how many of its pixels lie within `width` of the edge. `rows` and `cols` are the stack,
    as long as the image has pixels."""
    h, w = arr.shape
    rows[0], cols[0] = i, j
    seen[i, j] = True
    top = 1
    size = 0
    touching = 0
    while top:
        top -= 1
        i, j = rows[top], cols[top]
        size += 1
        if i < width or i >= h - width or j < width or j >= w - width:
            touching += 1
        if i > 0 and not seen[i - 1, j] and arr[i - 1, j] > threshold:
            seen[i - 1, j] = True
            rows[top], cols[top] = i - 1, j
            top += 1
        if i < h - 1 and not seen[i + 1, j] and arr[i + 1, j] > threshold:
            seen[i + 1, j] = True
            rows[top], cols[top] = i + 1, j
            top += 1
        if j > 0 and not seen[i, j - 1] and arr[i, j - 1] > threshold:
            seen[i, j - 1] = True
            rows[top], cols[top] = i, j - 1
            top += 1
        if j < w - 1 and not seen[i, j + 1] and arr[i, j + 1] > threshold:
            seen[i, j + 1] = True
            rows[top], cols[top] = i, j + 1
            top += 1
    return size, touching


@_jit
def central_frame_share(arr: np.ndarray, threshold: float, width: int) -> float:
    """Share of the `width`-pixel frame covered by the component of pixels above `threshold`
    (4-connected) that holds the centre pixel, or by the largest component (the first in raster
    order among equals, as scipy's ndimage.label numbers them) when the centre is not above it.

    A flood fill from the centre visits the nucleus only; labeling every component with
    ndimage.label cost 190 us an image, more than the rest of the quality measures together,
    and real crops, with neighbours at their edges, need it for most images.
    """
    if not frame_above(arr, threshold, width):  # most clean crops: nothing to fill
        return 0.0
    h, w = arr.shape
    seen = np.zeros((h, w), np.bool_)
    rows = np.empty(h * w, np.int32)
    cols = np.empty(h * w, np.int32)
    frame = h * w - max(h - 2 * width, 0) * max(w - 2 * width, 0)
    if arr[h // 2, w // 2] > threshold:
        return _flood(arr, threshold, seen, rows, cols, h // 2, w // 2, width)[1] / frame
    best_size = 0
    best_touching = 0
    for i in range(h):
        for j in range(w):
            if not seen[i, j] and arr[i, j] > threshold:
                size, touching = _flood(arr, threshold, seen, rows, cols, i, j, width)
                if size > best_size:
                    best_size, best_touching = size, touching
    return best_touching / frame
