"""A BPS-like synthetic dataset, so the whole pipeline runs with no network.

The generator imitates what makes the real task hard rather than what makes it easy: image sizes
vary, the nucleus is textured and sits on a noisy dark background, foci are tiny, X-ray foci are
scattered, Fe nuclei that a particle crossed show lines of foci that fade with time, not every Fe
nucleus is hit, and a share of images are the artefacts a real thumbnail grid shows (a nucleus
cut off by a bad crop, a saturated blob, an empty field, a blurred field). A neighbour touching
the frame is not one of them: the real image in ../shared/bps has two, and is a good image.

The true label of every image goes to a separate file: only the simulated annotator reads it.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
from scipy import ndimage

from bps_labeler.data.meta import META_COLUMNS

#: The 17 real conditions and the plate that holds each one (plate and condition are confounded).
CONDITIONS: tuple[tuple[str, str, float, int], ...] = (
    ("P242", "Fe", 0.82, 4),
    ("P243", "Fe", 0.3, 4),
    ("P244", "Fe", 0.0, 4),
    ("P248", "Fe", 0.82, 24),
    ("P249", "Fe", 0.3, 24),
    ("P250", "Fe", 0.0, 24),
    ("P251", "Fe", 0.82, 48),
    ("P253", "Fe", 0.0, 48),
    ("P278", "X-ray", 0.0, 4),
    ("P279", "X-ray", 0.1, 4),
    ("P280", "X-ray", 1.0, 4),
    ("P282", "X-ray", 0.0, 24),
    ("P283", "X-ray", 0.1, 24),
    ("P284", "X-ray", 1.0, 24),
    ("P286", "X-ray", 0.0, 48),
    ("P287", "X-ray", 0.1, 48),
    ("P288", "X-ray", 1.0, 48),
)

TRACK = "track"
NO_TRACK = "no track"
ARTEFACTS = ("none", "cut_nucleus", "saturated_blob", "empty", "blurred")


@dataclass(frozen=True)
class SyntheticSpec:
    """Knobs of the generator; the defaults give a fair stand-in for the real images."""

    n_images: int = 6000
    seed: int = 0
    artefact_fraction: float = 0.08
    min_size: int = 100
    max_size: int = 260
    #: Expected Fe traversals per nucleus per Gy (P(hit) = 1 - exp(-rate * dose)).
    fe_hits_per_gy: float = 1.5
    #: Scattered foci per nucleus per Gy of X-ray at 4 h, and in unirradiated cells.
    xray_foci_per_gy: float = 14.0
    background_foci: float = 1.5
    # Appearance knobs. The defaults give the built-in data set; benchmarks vary them to see
    # whether what the pipeline learned holds on data it was not tuned on (benchmarks/generator_spread.py).
    #: Scale of the foci's Gaussian width (1.0 to 2.2 px at 1).
    foci_size: float = 1.0
    #: Median focus brightness above the nucleus (16-bit counts).
    foci_brightness: float = 900.0
    #: Scale of the gaps between the foci of a track: 2 = half as many foci on a track.
    foci_gap: float = 1.0
    #: Half-length of a track as a share of the nucleus' larger radius.
    track_length: float = 0.9
    #: Tracks run at angles uniform in [0, track_angle * pi): 1 = any direction.
    track_angle: float = 1.0
    #: Camera offset (dark level) and read noise (16-bit counts).
    background: float = 257.0
    noise: float = 12.0
    #: Scale of the nucleus' radii (0.28 to 0.4 of the field at 1) and of its texture's contrast.
    nucleus_size: float = 1.0
    texture: float = 1.0
    # What biology does that the built-in set under-represents (issue 27); 0 / False keep the
    # built-in data set byte for byte.
    #: Share of traversals steep to the image plane: they project to a short cluster of one to
    #: three foci, which is not a track (hard negatives among hit nuclei).
    steep_share: float = 0.0
    #: How far foci fade and resolve by 48 h: at 48 h this share of a track's foci is gone
    #: beyond today's loss and all foci are dimmer by half of it (linear in hours from 4 h).
    fading: float = 0.0
    #: Crop aspect ratios spread over 1 +- this (real crops: about 0.6 to 1.6).
    aspect_spread: float = 0.15
    #: Traversals scale with the nucleus' area (a bigger target is crossed more often).
    hits_by_area: bool = False


@dataclass
class SampleTruth:
    filename: str
    label: str
    n_tracks: int
    n_foci: int
    artefact: str


def _plate_barcode(plate: str, seed: int) -> str:
    digest = hashlib.sha256(f"{seed}:{plate}".encode()).hexdigest()
    return "7366" + str(int(digest[:12], 16))[:7].rjust(7, "0")


def _gaussian_spots(img: np.ndarray, ys: np.ndarray, xs: np.ndarray, amps: np.ndarray, sigmas: np.ndarray) -> None:
    """Add small Gaussian spots in place; a local patch per spot keeps this cheap."""
    h, w = img.shape
    for y, x, a, s in zip(ys, xs, amps, sigmas):
        r = int(math.ceil(3 * s))
        y0, y1 = max(int(y) - r, 0), min(int(y) + r + 1, h)
        x0, x1 = max(int(x) - r, 0), min(int(x) + r + 1, w)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        img[y0:y1, x0:x1] += a * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * s * s))


def _ellipse_mask(
    h: int,
    w: int,
    cy: float,
    cx: float,
    ry: float,
    rx: float,
    theta: float,
    wobble: list[tuple[float, float]] | None = None,
) -> np.ndarray:
    """Soft-edged ellipse (0..1), soft so the border is not a giveaway edge."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c, s = math.cos(theta), math.sin(theta)
    u = ((xx - cx) * c + (yy - cy) * s) / rx
    v = (-(xx - cx) * s + (yy - cy) * c) / ry
    d = np.sqrt(u * u + v * v)
    if wobble is not None:
        # Real nuclei are not ellipses: a few low angular harmonics bend the outline.
        phi = np.arctan2(v, u)
        d = d * (1 + sum(a * np.cos(k * phi + p) for k, (a, p) in enumerate(wobble, start=2)))
    return np.clip((1.08 - d) / 0.2, 0.0, 1.0)


def _track_foci(
    rng: np.random.Generator, cy: float, cx: float, ry: float, rx: float, hours: int, spec: SyntheticSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Foci along one straight chord of the nucleus; later hours lose foci and straightness."""
    angle = rng.uniform(0, math.pi * spec.track_angle)
    offset = rng.uniform(-0.6, 0.6) * min(ry, rx)
    dy, dx = math.sin(angle), math.cos(angle)
    half = spec.track_length * max(ry, rx)
    if spec.steep_share > 0 and rng.uniform() < spec.steep_share:
        half *= rng.uniform(0.02, 0.12)  # seen end-on: a few pixels of path
    # Foci sit at irregular gaps along the path, not on a ruler.
    gaps = (rng.exponential(rng.uniform(2.5, 5.0), 80) + 2.0) * spec.foci_gap
    ts = -half + np.cumsum(gaps)
    ts = ts[ts < half]
    py = cy + ts * dy + offset * dx
    px = cx + ts * dx - offset * dy
    jitter = 1.0 + 0.05 * hours
    py = py + rng.normal(0, jitter, len(ts))
    px = px + rng.normal(0, jitter, len(ts))
    lost = min(0.25 + 0.008 * hours, 0.7)
    if spec.fading > 0:  # foci resolve: by 48 h a further `fading` share of them is gone
        lost = min(lost + spec.fading * _late(hours) * (1 - lost), 0.97)
    keep = rng.uniform(size=len(ts)) > lost
    return py[keep], px[keep]


def _late(hours: int) -> float:
    """0 at 4 h, 1 at 48 h: how far repair has gone."""
    return min(max((hours - 4) / 44.0, 0.0), 1.0)


def _inside(mask: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    yi = np.clip(np.round(ys).astype(int), 0, h - 1)
    xi = np.clip(np.round(xs).astype(int), 0, w - 1)
    ok = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    return ok & (mask[yi, xi] > 0.5)


def render_nucleus(
    rng: np.random.Generator,
    particle: str,
    dose: float,
    hours: int,
    spec: SyntheticSpec,
    artefact: str = "none",
) -> tuple[np.ndarray, SampleTruth]:
    """Render one 16-bit image and its truth (filename left empty for the caller)."""
    h = int(rng.integers(spec.min_size, spec.max_size + 1))
    w = int(np.clip(h * rng.uniform(1 - spec.aspect_spread, 1 + spec.aspect_spread), spec.min_size, spec.max_size))
    img = np.full((h, w), spec.background, dtype=np.float32)
    img += ndimage.gaussian_filter(rng.normal(0, 25, (h, w)).astype(np.float32), 6)

    cy, cx = h / 2 + rng.normal(0, h * 0.04), w / 2 + rng.normal(0, w * 0.04)
    ry, rx = h * rng.uniform(0.28, 0.4) * spec.nucleus_size, w * rng.uniform(0.28, 0.4) * spec.nucleus_size
    if artefact == "cut_nucleus":  # a bad crop: a third to a half of the nucleus lies outside
        side, inside = int(rng.integers(4)), rng.uniform(0.0, 0.35)
        cy, cx = [(ry * inside, cx), (h - ry * inside, cx), (cy, rx * inside), (cy, w - rx * inside)][side]
    theta = rng.uniform(0, math.pi)
    wobble = [(rng.uniform(0, 0.05), rng.uniform(0, 2 * math.pi)) for _ in range(3)]
    mask = _ellipse_mask(h, w, cy, cx, ry, rx, theta, wobble)
    if artefact == "empty":
        mask = np.zeros_like(mask)

    texture = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)).astype(np.float32), 2.5)
    texture = texture / (texture.std() + 1e-6)
    base = rng.uniform(300, 700)
    gy, gx = rng.normal(0, 0.25, 2)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shading = 1 + gy * (yy - cy) / ry + gx * (xx - cx) / rx
    img += mask * np.clip(shading, 0.5, 1.5) * (base + rng.uniform(40, 90) * spec.texture * texture)

    n_tracks = 0
    fy: list[np.ndarray] = []
    fx: list[np.ndarray] = []
    decay = math.exp(-(hours - 4) / 30.0)
    if artefact != "empty":
        if particle == "Fe" and dose > 0:
            rate = spec.fe_hits_per_gy * dose
            if spec.hits_by_area:  # against a nucleus of the mean crop (180 px) and radii (0.34)
                rate *= (ry * rx) / (180 * 0.34 * spec.nucleus_size) ** 2
            n_tracks = int(rng.poisson(rate))
            for _ in range(n_tracks):
                ty, tx = _track_foci(rng, cy, cx, ry, rx, hours, spec)
                fy.append(ty)
                fx.append(tx)
            scattered = spec.background_foci + 3.0 * dose * decay
        elif particle == "X-ray":
            scattered = spec.background_foci + spec.xray_foci_per_gy * dose * decay
        else:
            scattered = spec.background_foci
        n_sc = int(rng.poisson(scattered))
        fy.append(cy + rng.uniform(-1, 1, n_sc) * ry)
        fx.append(cx + rng.uniform(-1, 1, n_sc) * rx)

    track_foci = 0
    n_foci = 0
    if fy:
        ys, xs = np.concatenate(fy), np.concatenate(fx)
        inside = _inside(mask, ys, xs)
        n_in_tracks = sum(len(t) for t in fy[:n_tracks])
        track_inside = inside[:n_in_tracks]
        track_foci = int(track_inside.sum())
        ys, xs = ys[inside], xs[inside]
        n_foci = len(ys)
        amps = rng.lognormal(math.log(spec.foci_brightness), 0.4, n_foci) * (0.6 + 0.4 * decay)
        if spec.fading > 0:
            amps = amps * (1 - 0.5 * spec.fading * _late(hours))
        sigmas = rng.uniform(1.0, 2.2, n_foci) * spec.foci_size
        _gaussian_spots(img, ys, xs, amps, sigmas)

    # A track is only a track if a person would see a line: at least four foci on it.
    label = TRACK if n_tracks > 0 and track_foci >= 4 else NO_TRACK

    if artefact == "saturated_blob":
        by, bx = cy + rng.normal(0, ry / 3), cx + rng.normal(0, rx / 3)
        blob = _ellipse_mask(h, w, by, bx, ry * 0.35, rx * 0.35, 0.0)
        img += blob * 65535.0  # clipped at the sensor's maximum below, as a real saturated blob
    elif artefact == "blurred":
        img = ndimage.gaussian_filter(img, rng.uniform(1.5, 2.5))

    img += rng.normal(0, spec.noise, (h, w)).astype(np.float32)
    img = np.clip(np.round(img), 0, 65535).astype(np.uint16)
    truth = SampleTruth("", label, n_tracks, n_foci, artefact)
    return img, truth


def _pick_artefact(rng: np.random.Generator, fraction: float) -> str:
    if rng.uniform() >= fraction:
        return "none"
    return str(rng.choice(ARTEFACTS[1:], p=[0.4, 0.2, 0.15, 0.25]))


#: Names a worker offers per image, in the order one process would have tried them; the first
#: not taken by an earlier image wins (a name is taken by about 1 image in 200).
NAME_CANDIDATES = 32


def _render_batch(args: tuple[list[int], SyntheticSpec, str]) -> list[dict[str, object]]:
    """Render images `indices` into temporary files; return each with its candidate names."""
    indices, spec, image_dir = args
    out = []
    for i in indices:
        plate, particle, dose, hours = CONDITIONS[i % len(CONDITIONS)]
        rng = np.random.default_rng([spec.seed, i])
        artefact = _pick_artefact(rng, spec.artefact_fraction)
        img, truth = render_nucleus(rng, particle, dose, hours, spec, artefact)
        well = f"{'ABCDEFGH'[rng.integers(8)]}{rng.integers(1, 13)}"
        names = [
            f"{plate}_{_plate_barcode(plate, spec.seed)}-{well}_"
            f"{rng.integers(1, 20):03d}_{rng.integers(1, 40):03d}_proj.tif"
            for _ in range(NAME_CANDIDATES)
        ]
        tmp = Path(image_dir) / f".render-{i}.tif"
        tifffile.imwrite(tmp, img, compression="deflate", photometric="minisblack")
        out.append(
            {
                "i": i,
                "tmp": tmp,
                "names": names,
                "meta": {"dose_Gy": dose, "particle_type": particle, "hr_post_exposure": hours},
                "truth": {
                    "label": truth.label,
                    "n_tracks": truth.n_tracks,
                    "n_foci": truth.n_foci,
                    "artefact": truth.artefact,
                },
            }
        )
    return out


def generate(
    out_dir: Path, truth_csv: Path, spec: SyntheticSpec, image_dir: Path | None = None, workers: int = 1
) -> pd.DataFrame:
    """Write meta.csv to `out_dir`, the TIFFs to `image_dir` (default: beside it) and the hidden
    labels to `truth_csv`.

    The workflow keeps the TIFFs in a folder of their own so that Snakemake can declare them as
    one output, which is what lets them travel through remote storage. Every image gets its own
    random stream derived from (seed, index), so the output does not depend on the order or the
    batch in which images are written, nor on the number of `workers` that render them: names
    are settled afterwards, in index order, as one process would have.
    """
    from concurrent.futures import ProcessPoolExecutor

    image_dir = out_dir if image_dir is None else image_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    image_dir.mkdir(parents=True, exist_ok=True)
    truth_csv.parent.mkdir(parents=True, exist_ok=True)
    batches = [(list(range(k, min(k + 64, spec.n_images))), spec, str(image_dir)) for k in range(0, spec.n_images, 64)]
    if workers > 1 and len(batches) > 1:
        with ProcessPoolExecutor(min(workers, len(batches))) as pool:
            rendered = [r for part in pool.map(_render_batch, batches) for r in part]
    else:
        rendered = [r for batch in batches for r in _render_batch(batch)]
    meta_rows: list[dict[str, object]] = []
    truth_rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for r in sorted(rendered, key=lambda r: r["i"]):
        name = next((n for n in r["names"] if n not in seen), None)
        if name is None:  # 32 names in a row taken: not seen at 77,000 images
            raise RuntimeError(f"image {r['i']}: no free name among {NAME_CANDIDATES} candidates")
        seen.add(name)
        os.replace(r["tmp"], image_dir / name)
        meta_rows.append({"filename": name, **r["meta"]})
        truth_rows.append({"filename": name, **r["truth"]})
    meta = pd.DataFrame(meta_rows, columns=list(META_COLUMNS))
    meta.to_csv(out_dir / "meta.csv", index=False)
    pd.DataFrame(truth_rows).to_csv(truth_csv, index=False)
    return meta


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (`bps-synthesize`), for demos outside the workflow."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--n-images", type=int, default=SyntheticSpec.n_images)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    generate(args.out_dir, args.truth, SyntheticSpec(n_images=args.n_images, seed=args.seed))
