"""16-bit TIFF to 8-bit JPG, in shards.

Images are grouped into a fixed number of shards by a hash of their name, so the workflow plans a
handful of jobs whatever the size of meta.csv, and a shard's content does not depend on the order
of rows or on which other rows the filter kept.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import struct
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
from PIL import Image

from bps_labeler.data import pixel_loops
from bps_labeler.data.meta import jpg_name
from bps_labeler.errors import InputError
from bps_labeler.utils.files import link_or_copy, write_new
from bps_labeler.utils.progress import Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stretch:
    """How 16-bit values map to 8 bits.

    `percentile` clips at robust low/high percentiles: in BPS images one bright focus often sets
    the maximum, and a plain min-max stretch (`minmax`, the old tutorial's) leaves the nucleus dim.
    """

    method: str = "percentile"
    low: float = 0.5
    high: float = 99.8
    quality: int = 95

    def __post_init__(self) -> None:
        if self.method not in ("percentile", "minmax"):
            raise InputError(f"convert.stretch = {self.method!r}; allowed: percentile, minmax.")
        if not 0 <= self.low < self.high <= 100:
            raise InputError(f"convert.percentiles = [{self.low}, {self.high}]; need 0 <= low < high <= 100.")


def shard_of(filename: str, n_shards: int) -> int:
    """Stable shard index of an image: the same on every machine and Python version."""
    digest = hashlib.sha1(filename.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n_shards


def _first_page(path: Path, decode: bool, shown: str | None = None) -> np.ndarray | None:
    """Open a TIFF, check its strips lie inside the file, and decode the first page if asked.

    A truncated file can decode to an empty or partly black image without any error from the
    decoder, so the strips are checked against the file size first. Errors name `shown` (for
    example the S3 object the file came from) or the path.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts)]
            if not ends or max(ends) > size:
                raise ValueError(f"image data ends at byte {max(ends, default=0)}, file has {size}")
            if len(tif.pages) > 1:
                # a z-stack or time series: converting its first plane would silently drop the rest
                raise _NotOnePlane(f"{shown or path}: a stack of {len(tif.pages)} planes")
            return page.asarray() if decode else None
    except FileNotFoundError as exc:
        raise InputError(f"{shown or path}: image listed in meta.csv is missing.") from exc
    except _NotOnePlane as exc:
        raise InputError(
            f"{exc}; BPS images are single-plane projections. Project the stack to one plane "
            "(maximum intensity) or drop its row from meta.csv."
        ) from None
    except Exception as exc:  # tifffile raises many types for corrupt files
        # an index or key error deep in the parser says only "0": what it means is a broken file
        opaque = isinstance(exc, (IndexError, KeyError, EOFError, struct.error))
        detail = "its structure is broken or it ends early" if opaque else f"{type(exc).__name__}: {exc}"
        raise InputError(
            f"{shown or path}: not a readable TIFF ({detail}). The file is corrupt "
            "or truncated: download it again or drop its row from meta.csv."
        ) from exc


class _NotOnePlane(Exception):
    """A TIFF that holds more than one image plane."""


#: Smaller than this on a side is no nucleus image (BPS crops are about 100-200 px).
MIN_SIDE = 8


def check_tiff(path: Path, shown: str | None = None) -> None:
    """Raise InputError unless `path` is a whole TIFF; reads the header only, decodes nothing."""
    _first_page(path, decode=False, shown=shown)


def read_tiff(path: Path) -> np.ndarray:
    """Read one BPS TIFF as a 2-D integer array, or raise InputError naming the file."""
    arr = _first_page(path, decode=True)
    if arr.ndim > 2 and sum(n > 1 for n in arr.shape) == 2:  # one plane with extra axes of length 1
        arr = arr.reshape([n for n in arr.shape if n > 1])
    if arr.ndim != 2:
        raise InputError(
            f"{path}: expected a 2-D single-channel image, got shape {arr.shape}. "
            "BPS images are single-plane projections."
        )
    if min(arr.shape) < MIN_SIDE:
        raise InputError(
            f"{path}: {arr.shape[0]} x {arr.shape[1]} pixels is too small for a nucleus image "
            f"(at least {MIN_SIDE} on a side); drop its row from meta.csv."
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{path}: expected integer pixels (uint16), got {arr.dtype}.")
    return arr


@dataclass(frozen=True)
class Levels:
    """How often each grey level occurs, from the image's minimum (`base`) to its maximum: one
    pass over the pixels that the contrast stretch and every quality measure read instead of the
    image.

    BPS images are small (about 180 x 180), so a conversion is a handful of passes over them and
    each one counts; the histogram of a 16-bit image is at most 65,536 bins, and the loops over
    it are compiled (pixel_loops).
    """

    counts: np.ndarray
    base: int

    @property
    def top(self) -> int:
        """The image's maximum."""
        return self.base + len(self.counts) - 1

    def percentiles(self, qs: tuple[float, ...]) -> list[float]:
        """np.percentile's values (linear between order statistics)."""
        return pixel_loops.percentiles(self.counts, self.base, np.asarray(qs, dtype=np.float64)).tolist()


def _native(arr: np.ndarray) -> np.ndarray:
    """`arr` as the compiled loops take it: contiguous and in this machine's byte order (Numba
    types no other; a big-endian TIFF read by another library, or a slice, arrives otherwise).
    No copy when it is so already."""
    return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))


def levels(arr: np.ndarray) -> Levels | None:
    """The image's Levels, or None when its values span more than 16 bits (a histogram over a
    32- or 64-bit range could need gigabytes) or are not integers."""
    if not np.issubdtype(arr.dtype, np.integer):
        return None
    counts, lo = pixel_loops.count_levels(_native(arr))
    return Levels(counts, int(lo)) if len(counts) else None


def to_uint8(arr: np.ndarray, stretch: Stretch, hist: Levels | None = None) -> np.ndarray:
    """Contrast-stretch an integer image to uint8.

    The percentiles come from the histogram's cumulative counts, not from sorting the pixels, so
    the image is read twice (histogram, stretch). They are the nearest lower rank, i.e. always
    values that occur in the image. `hist` is the image's Levels when the caller has them already.
    """
    hist = hist or levels(arr)
    if hist is None:
        return _to_uint8_wide(arr, stretch)
    # minmax is the 0th and 100th percentile: the nearest lower ranks are the minimum and maximum
    low, high = (0.0, 100.0) if stretch.method == "minmax" else (stretch.low, stretch.high)
    arr = _native(arr)
    return pixel_loops.stretch(arr, arr.dtype.type(hist.base), hist.counts, float(low), float(high))


def _to_uint8_wide(arr: np.ndarray, stretch: Stretch) -> np.ndarray:
    """to_uint8 for pixel values spanning more than 16 bits, exact in integers.

    Floats cannot tell 2**64 - 10 from 2**64 - 1000, so the percentiles are taken by partial
    sorting and the offsets from the low end are computed in the type's unsigned twin, where
    they are exact; only the final scaling is in floats.
    """
    flat = arr.ravel()
    if stretch.method == "minmax":
        lo, hi = flat.min(), flat.max()
    else:
        ranks = [int(np.floor(q / 100.0 * (flat.size - 1))) for q in (stretch.low, stretch.high)]
        part = np.partition(flat, ranks)
        lo, hi = part[ranks[0]], part[ranks[1]]
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    unsigned = np.dtype(f"u{arr.dtype.itemsize}")
    base = np.asarray(lo, dtype=arr.dtype).view(unsigned)
    offsets = np.clip(arr, lo, hi).view(unsigned) - base  # exact: two's complement wraps back
    span = float(np.asarray(hi, dtype=arr.dtype).view(unsigned) - base)
    return np.clip(np.round(offsets.astype(np.float64) * (255.0 / span)), 0, 255).astype(np.uint8)


QUALITY_COLUMNS = ("sharpness", "snr", "saturated_fraction", "foreground_fraction", "border_fraction")


def quality(arr: np.ndarray, out: np.ndarray, hist: Levels | None = None) -> dict[str, float]:
    """Cheap image-quality measures, so selection can drop or down-weight bad images.

    Each is defined from the image itself, not from its data type, because real BPS images use
    a small part of the 16-bit range (the one in ../shared/bps tops out at 2,470 of 65,535):
    sharpness: variance of the Laplacian of the 8-bit image binned 2 x 2 (binning leaves
    pixel noise out, so a blurred field scores low and a crisp one with foci high);
    snr: foreground over background mean, in background standard deviations (empty fields
    score about 2.6, nuclei 4 and more; a foreground of under MIN_FOREGROUND of the pixels, such
    as one hot pixel on an empty field, is no nucleus and scores 0);
    saturated_fraction: share of pixels at the image's own maximum; a detector that clipped
    leaves a flat top of many pixels there, an unclipped image one or a few;
    foreground_fraction: share of pixels brighter than halfway between background and nucleus;
    border_fraction: share of the image's outer frame that the central nucleus touches (a crop
    that cut the nucleus off scores high; neighbours touching the frame, which real crops often
    have, do not count).
    All but sharpness and border_fraction come from the histogram (`hist`, the image's Levels),
    not from the pixels: the conversion made it for the stretch already.
    """
    hist = hist or levels(arr)
    if hist is None:  # values spanning more than 16 bits: the pixels, in floats
        return _quality_wide(arr, out)
    counts = hist.counts
    lo, hi = hist.percentiles((5.0, 95.0))
    threshold = (lo + hi) / 2  # levels at or below it: background
    split = min(len(counts), math.floor(threshold) - hist.base + 1)
    n_bg, bg_mean, bg_var, n_fg, fg_mean = pixel_loops.split_moments(counts, split)
    n = n_bg + n_fg
    saturated = float(counts[-1] / n) if len(counts) > 1 else 0.0
    return {
        "sharpness": round(_sharpness(out), 3),
        "snr": _snr(fg_mean, bg_mean, bg_var, n_fg / n),
        "saturated_fraction": round(saturated, 5),
        "foreground_fraction": round(float(n_fg / n), 4),
        "border_fraction": round(_central_border_contact(arr, threshold), 4),
    }


#: Share of the pixels below which the bright part of an image is no nucleus (a hot pixel, a
#: speck): without it one 65,535 pixel on a flat empty field scored an snr of 6.5e10 and passed
#: every threshold meant to leave empty fields out. A nucleus covers a tenth of a crop and more.
MIN_FOREGROUND = 0.01


def _snr(fg_mean: float, bg_mean: float, bg_var: float, fg_share: float) -> float:
    if fg_share < MIN_FOREGROUND:
        return 0.0
    return round((fg_mean - bg_mean) / (math.sqrt(max(bg_var, 0.0)) + 1e-6), 3)


def _quality_wide(arr: np.ndarray, out: np.ndarray) -> dict[str, float]:
    """quality() for values spanning more than 16 bits, from the pixels."""
    a = arr.astype(np.float64)
    lo, hi = np.percentile(a, (5.0, 95.0))
    threshold = (lo + hi) / 2
    fg = a > threshold
    bg_vals = a[~fg] if (~fg).any() else a.ravel()
    fg_vals = a[fg] if fg.any() else a.ravel()
    top = arr.max()  # compared in the image's own type: floats merge neighbouring 32-bit values
    return {
        "sharpness": round(_sharpness(out), 3),
        "snr": _snr(float(fg_vals.mean()), float(bg_vals.mean()), float(bg_vals.var()), float(fg.mean())),
        "saturated_fraction": round(float((arr == top).mean()) if top > arr.min() else 0.0, 5),
        "foreground_fraction": round(float(fg.mean()), 4),
        "border_fraction": round(_central_border_contact(arr, threshold), 4),
    }


def _sharpness(out: np.ndarray) -> float:
    """Variance of the 5-point Laplacian of the 8-bit image binned 2 x 2.

    Binning does what the Gaussian of a Laplacian-of-Gaussian does (pixel noise stops counting
    as detail) for a tenth of its cost on images this small.
    """
    return pixel_loops.binned_laplacian_variance(_native(out)) / 16.0  # binned sums: 4 x the mean


def _percentiles(arr: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """np.percentile's values, from the histogram where the image has one."""
    hist = levels(arr)
    if hist is None:
        return [float(v) for v in np.percentile(arr.astype(np.float64), qs)]
    return hist.percentiles(qs)


def _central_border_contact(arr: np.ndarray, threshold: float) -> float:
    """Share of a 2-pixel frame covered by the foreground (pixels above `threshold`) component
    at the image's centre.

    The nucleus a BPS crop is made for sits at its centre; when the centre pixel is background
    (a dark nucleolus, an empty field) the largest component stands in for it. A frame that no
    foreground touches (most clean crops) needs no labeling at all.
    """
    return pixel_loops.central_frame_share(_native(arr), threshold, 2)


def convert_one(src: Path, dst: Path, stretch: Stretch) -> dict[str, object]:
    """Convert one TIFF to `dst` and return its manifest row.

    The JPG is written in one piece but not atomically (files.write_new): convert_shard's caller
    discards a failed shard's folder, and its manifest is written only after every JPG."""
    arr = read_tiff(src)
    hist = levels(arr)
    out = to_uint8(arr, stretch, hist)
    measures = quality(arr, out, hist)  # while the pixels are still in the cache
    jpg = io.BytesIO()
    Image.fromarray(out).save(jpg, format="JPEG", quality=stretch.quality)
    write_new(dst, jpg.getbuffer())
    return {
        "filename": jpg_name(src.name),
        "source": src.name,
        "height": int(arr.shape[0]),
        "width": int(arr.shape[1]),
        "raw_min": hist.base if hist else int(arr.min()),
        "raw_max": hist.top if hist else int(arr.max()),
        **measures,
    }


def _load_compiled_loops() -> None:
    """Run every compiled loop once on a tiny 16-bit image.

    Loading them takes a process about 0.3 s (compiling them, on a machine's first run, about
    4 s); done before the worker processes are forked, it is done once instead of in each.
    """
    tiny = np.arange(64, dtype=np.uint16).reshape(8, 8)
    hist = levels(tiny)
    quality(tiny, to_uint8(tiny, Stretch(), hist), hist)


def _convert_batch(args: tuple[list[str], str, str, Stretch]) -> list[dict[str, object]]:
    names, src_dir, dst_dir, stretch = args
    return [convert_one(Path(src_dir) / n, Path(dst_dir) / jpg_name(n), stretch) for n in names]


def convert_shard(
    meta: pd.DataFrame,
    shard: int,
    n_shards: int,
    src_dir: Path,
    dst_dir: Path,
    stretch: Stretch,
    workers: int = 1,
) -> pd.DataFrame:
    """Convert the images of one shard and return its manifest (one row per JPG).

    The manifest is the shard's Snakemake output: it is written only after every image of the
    shard exists, so an interrupted shard is redone, never mistaken for a whole one.
    """
    dst_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(n for n in meta["filename"] if shard_of(n, n_shards) == shard)
    workers = max(1, min(workers, len(names) // 16 or 1))
    # batches of 64: few enough to keep the pool's overhead small, many enough for steady progress
    batches = [(names[i : i + 64], str(src_dir), str(dst_dir), stretch) for i in range(0, len(names), 64)]
    progress = Progress(f"convert shard {shard}", len(names), log)
    rows: list[dict[str, object]] = []
    if workers == 1:
        for part in map(_convert_batch, batches):
            rows += part
            progress.update(len(part))
    else:
        _load_compiled_loops()  # before the fork: the workers inherit them
        with ProcessPoolExecutor(workers) as pool:
            for part in pool.map(_convert_batch, batches):
                rows += part
                progress.update(len(part))
    cols = ["filename", "source", "height", "width", "raw_min", "raw_max", *QUALITY_COLUMNS]
    return pd.DataFrame(rows, columns=cols).sort_values("filename").reset_index(drop=True)


def merge_shards(manifests: list[Path], shard_dirs: list[Path], out_dir: Path) -> pd.DataFrame:
    """Gather the shards' JPGs into one folder and return the manifest of all of them.

    Every later rule, Label Studio and the published datasource name an image by its place in
    one flat folder; the shards are only how conversion is spread over jobs. The JPGs are linked,
    not copied (files.link_or_copy).
    """
    if len(manifests) != len(shard_dirs):
        raise ValueError(f"{len(manifests)} shard manifests but {len(shard_dirs)} shard folders")
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    for manifest, shard_dir in zip(manifests, shard_dirs):
        part = pd.read_csv(manifest, sep="\t")
        for name in part["filename"]:
            src = shard_dir / name
            if not src.is_file():
                raise InputError(f"{manifest} lists {name}, but {src} does not exist: rerun its convert job.")
            link_or_copy(src, out_dir / name)
        parts.append(part)
    merged = pd.concat(parts).sort_values("filename").reset_index(drop=True)
    flat = merged.loc[merged["raw_min"] == merged["raw_max"], "source"].tolist()
    if flat:
        # a dead or empty frame holds no nucleus: the snr threshold keeps it out of selection,
        # but the split may still hand it to people as a validation image
        logging.getLogger(__name__).warning(
            "%d image(s) are one flat level (a dead or empty frame) and convert to blank JPGs, e.g. %s; "
            "drop their rows from meta.csv.",
            len(flat),
            flat[:3],
        )
    return merged
