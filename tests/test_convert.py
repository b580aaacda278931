import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml
from conftest import SHARED_BPS
from PIL import Image

from bps_labeler.data.convert import (
    MIN_FOREGROUND,
    QUALITY_COLUMNS,
    Stretch,
    convert_one,
    convert_shard,
    merge_shards,
    quality,
    read_tiff,
    shard_of,
    to_uint8,
)
from bps_labeler.errors import InputError

REAL = SHARED_BPS / "P242_73665006707-A6_003_013_proj.tif"


def test_real_image_reads_as_2d_uint16():
    arr = read_tiff(REAL)
    assert arr.shape == (141, 149) and arr.dtype == np.uint16
    assert (arr.min(), arr.max()) == (257, 2470)


def test_percentile_stretch_brightens_the_nucleus_minmax_leaves_it_dim():
    arr = read_tiff(REAL)
    robust = to_uint8(arr, Stretch())
    plain = to_uint8(arr, Stretch("minmax"))
    assert plain.max() == 255 and plain.min() == 0
    assert np.median(robust) > 1.5 * np.median(plain)
    assert robust.dtype == np.uint8


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, np.uint64, np.int64])
def test_wide_pixels_near_their_maximum_convert_without_a_huge_histogram(dtype):
    top = np.iinfo(dtype).max
    arr = np.full((40, 40), top - 1000, dtype=dtype)
    arr[10:30, 10:30] = top - 10  # a bright nucleus on a dark field, both near the type's maximum
    arr[0, 0] = 0  # and one pixel at zero: the range spans the whole type
    out = to_uint8(arr, Stretch())
    assert out[20, 20] == 255 and out[5, 5] < out[20, 20]
    assert to_uint8(arr, Stretch("minmax"))[20, 20] == 255


def test_flat_image_becomes_black_not_nan():
    assert not to_uint8(np.full((10, 10), 7, np.uint16), Stretch()).any()


@pytest.mark.parametrize(
    "writer, message",
    [
        (
            lambda p: p.write_bytes(REAL.read_bytes()[:2000]),
            "not a readable TIFF (its structure is broken or it ends early)",
        ),
        (lambda p: p.write_bytes(b"not a tiff at all"), "not a readable TIFF"),
        (lambda p: tifffile.imwrite(p, np.zeros((3, 20, 20), np.uint16)), "expected a 2-D single-channel image"),
        (lambda p: tifffile.imwrite(p, np.zeros((20, 20), np.float32)), "expected integer pixels"),
        (lambda p: tifffile.imwrite(p, np.zeros((5, 20, 20), np.uint16)), "a stack of 5 planes"),
        (lambda p: tifffile.imwrite(p, np.zeros((1, 1), np.uint16)), "1 x 1 pixels is too small"),
    ],
)
def test_bad_tiff_names_the_file(tmp_path, writer, message):
    path = tmp_path / "bad.tif"
    writer(path)
    with pytest.raises(InputError) as err:
        read_tiff(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_missing_image_is_named(tmp_path):
    with pytest.raises(InputError, match="gone.tif: image listed in meta.csv is missing"):
        read_tiff(tmp_path / "gone.tif")


def test_bad_stretch_config():
    with pytest.raises(InputError, match="convert.stretch"):
        Stretch("gamma")
    with pytest.raises(InputError, match="convert.percentiles"):
        Stretch("percentile", 50, 10)


def test_shards_are_stable_and_cover_every_image(tiny_dataset):
    _, _, meta = tiny_dataset
    shards = [shard_of(n, 4) for n in meta["filename"]]
    assert set(shards) == {0, 1, 2, 3}
    assert shard_of("P242_73665006707-A6_003_013_proj.tif", 8) == shard_of("P242_73665006707-A6_003_013_proj.tif", 8)


@pytest.mark.parametrize("workers", [1, 2])
def test_convert_shard_writes_jpgs_and_manifest(tmp_path, tiny_dataset, workers):
    raw, _, meta = tiny_dataset
    parts = [convert_shard(meta, s, 3, raw, tmp_path / "jpg", Stretch(), workers=workers) for s in range(3)]
    manifest = pd.concat(parts)
    assert sorted(manifest["filename"]) == sorted(n.replace(".tif", ".jpg") for n in meta["filename"])
    files = sorted(p.name for p in (tmp_path / "jpg").iterdir())
    assert files == sorted(manifest["filename"])  # no temporary files left behind
    row = manifest.iloc[0]
    with Image.open(tmp_path / "jpg" / row["filename"]) as im:
        assert im.mode == "L" and im.size == (row["width"], row["height"])


def test_convert_one_of_real_image(tmp_path):
    info = convert_one(REAL, tmp_path / "x.jpg", Stretch())
    assert set(QUALITY_COLUMNS) <= set(info)
    assert {k: v for k, v in info.items() if k not in QUALITY_COLUMNS} == {
        "filename": "P242_73665006707-A6_003_013_proj.jpg",
        "source": REAL.name,
        "height": 141,
        "width": 149,
        "raw_min": 257,
        "raw_max": 2470,
    }


def test_quality_measures_flag_the_artefacts():
    from bps_labeler.data.synthetic import SyntheticSpec, render_nucleus

    def q(artefact, seed=5):
        arr, _ = render_nucleus(np.random.default_rng(seed), "Fe", 0.82, 4, SyntheticSpec(), artefact)
        return quality(arr, to_uint8(arr, Stretch()))

    normal = q("none")
    assert q("blurred")["sharpness"] < 0.5 * normal["sharpness"]
    assert q("saturated_blob")["saturated_fraction"] > 0.005 > normal["saturated_fraction"]
    assert q("cut_nucleus")["border_fraction"] > normal["border_fraction"] + 0.05
    assert q("empty")["snr"] < 0.5 * normal["snr"]


def _passes_default_thresholds(measures: dict[str, float]) -> list[str]:
    """The quality thresholds of config/config.yaml's round 1 that `measures` fails."""
    from bps_labeler.selection.thresholds import passes_threshold

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())
    failed = []
    for item in cfg["selection"][0]["strategies"]:
        if item["strategy"]["type"] == "THRESHOLD":
            key = item["input"]["key"]
            if not passes_threshold(item["strategy"], np.array([measures[key]]))[0]:
                failed.append(key)
    return failed


def test_default_thresholds_keep_the_real_image_and_catch_every_synthetic_artefact():
    from bps_labeler.data.synthetic import ARTEFACTS, SyntheticSpec, render_nucleus

    arr = read_tiff(REAL)  # a clean nucleus with two neighbours cut by the frame, max 2,470
    real = quality(arr, to_uint8(arr, Stretch()))
    assert _passes_default_thresholds(real) == [], real
    for artefact in ARTEFACTS:
        caught = 0
        for seed in range(20):
            arr, _ = render_nucleus(np.random.default_rng(seed), "Fe", 0.82, 4, SyntheticSpec(), artefact)
            caught += bool(_passes_default_thresholds(quality(arr, to_uint8(arr, Stretch()))))
        if artefact in ("none", "blurred"):  # blurred fields are down-weighted by sharpness, not dropped
            assert caught == 0, artefact
        else:
            assert caught >= 19, (artefact, caught)


def test_a_full_disk_is_one_line_and_leaves_no_half_file(tmp_path, small_disk):
    """A 64 kB tmpfs fills up after a few JPGs: the error says so, and no partial JPG remains."""
    arr = np.random.default_rng(0).integers(0, 4000, (200, 200)).astype(np.uint16)  # noise: big JPGs
    src = tmp_path / "noise.tif"
    tifffile.imwrite(src, arr)
    with pytest.raises(InputError, match=r"small: the disk is full \(writing n\d+\.jpg\)"):
        for i in range(100):
            convert_one(src, small_disk / f"n{i}.jpg", Stretch())
    for jpg in small_disk.iterdir():  # every JPG left is whole
        Image.open(jpg).load()
    assert 0 < len(list(small_disk.iterdir())) < 100


def test_converting_again_replaces_the_jpg_and_leaves_its_links_alone(tmp_path):
    """Shard JPGs are hard-linked into the image folder: a rerun writes a new file, it does not
    write through the old one (which would change the linked copy too)."""
    jpg = tmp_path / "x.jpg"
    convert_one(REAL, jpg, Stretch())
    (tmp_path / "linked.jpg").hardlink_to(jpg)
    before = (tmp_path / "linked.jpg").read_bytes()
    convert_one(REAL, jpg, Stretch("minmax"))
    assert (tmp_path / "linked.jpg").read_bytes() == before != jpg.read_bytes()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.uint64])
def test_histogram_percentiles_equal_numpys(dtype):
    from bps_labeler.data.convert import _percentiles

    rng = np.random.default_rng(3)
    for shape in ((1, 1), (7, 9), (178, 196)):
        arr = rng.integers(-50 if np.issubdtype(dtype, np.signedinteger) else 0, 250, shape).astype(dtype)
        qs = (0.5, 5.0, 50.0, 95.0, 99.8)
        np.testing.assert_allclose(_percentiles(arr, qs), np.percentile(arr.astype(np.float64), qs))


def _blobs(rng: np.random.Generator, shape: tuple[int, int], dtype: type, centre_on: bool) -> np.ndarray:
    """Smooth random blobs on noise, in `dtype`, its values offset towards the type's range."""
    from scipy import ndimage

    field = ndimage.gaussian_filter(rng.normal(size=shape), rng.uniform(0.5, 4)) * 3000 + 2000
    field = np.clip(field + rng.normal(0, 50, shape), 0, 60000)
    if centre_on:
        field[shape[0] // 2 - 3 : shape[0] // 2 + 3, shape[1] // 2 - 3 : shape[1] // 2 + 3] += 5000
    offset = -30000 if np.issubdtype(dtype, np.signedinteger) and np.iinfo(dtype).max > 40000 else 0
    if dtype == np.uint8:
        field = field / 250
    elif dtype == np.int8:
        field = field / 500 - 60
    return (field + offset).astype(dtype)


def _numpy_measures(arr: np.ndarray) -> dict[str, float]:
    """The measures as numpy computed them before the loops were compiled (b584a61): from the
    histogram in floats, the border by labeling every component."""
    from scipy import ndimage

    lo_v = int(arr.min())
    counts = np.bincount(arr.ravel().astype(np.int64) - lo_v)
    cdf = np.cumsum(counts)
    n = int(cdf[-1])

    def percentile(q: float) -> float:
        rank = q / 100.0 * (n - 1)
        k = int(np.floor(rank))
        below, above = np.searchsorted(cdf, [k, min(k + 1, n - 1)], side="right")
        return float(lo_v + below + (rank - k) * (above - below))

    threshold = (percentile(5.0) + percentile(95.0)) / 2
    c = counts.astype(np.float64)
    values = np.arange(len(c), dtype=np.float64) + lo_v
    split = int(np.searchsorted(values, threshold, side="right"))
    n_fg = c[split:].sum()
    if n_fg == 0 or n_fg == n:
        c_bg, v_bg, n_bg = c, values, n
        fg_mean = bg_mean = float((c * values).sum() / n)
    else:
        c_bg, v_bg, n_bg = c[:split], values[:split], n - n_fg
        fg_mean = float((c[split:] * values[split:]).sum() / n_fg)
        bg_mean = float((c_bg * v_bg).sum() / n_bg)
    bg_std = float(np.sqrt(max((c_bg * v_bg * v_bg).sum() / n_bg - bg_mean**2, 0.0)))
    labels, n_labels = ndimage.label(arr > threshold)
    h, w = arr.shape
    central = labels[h // 2, w // 2] or int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    frame = np.ones(arr.shape, bool)
    frame[2:-2, 2:-2] = False
    return {
        "snr": round((fg_mean - bg_mean) / (bg_std + 1e-6), 3),
        "saturated_fraction": round(float(counts[-1] / n) if len(counts) > 1 else 0.0, 5),
        "foreground_fraction": round(float(n_fg / n), 4),
        "border_fraction": round(float((labels[frame] == central).mean()) if n_labels else 0.0, 4),
    }


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint32, np.int64, np.uint64])
def test_compiled_stretch_and_measures_equal_their_numpy_formulas(dtype):
    """pixel_loops replaces numpy code; on images of every integer type, blobs and noise, with
    the centre inside a blob or not, each result equals the numpy formula it replaced."""
    rng = np.random.default_rng(11)
    for k in range(24):
        shape = (int(rng.integers(8, 90)), int(rng.integers(8, 90)))
        arr = _blobs(rng, shape, dtype, centre_on=k % 2 == 0)
        ordered = np.sort(arr.ravel()).astype(np.int64)
        for method, low, high in (("percentile", 0.5, 99.8), ("percentile", 5.0, 60.0), ("minmax", 0.0, 100.0)):
            lo, hi = (int(ordered[int(np.floor(q / 100 * (arr.size - 1)))]) for q in (low, high))
            if hi > lo:  # the lookup table of the numpy version, per pixel
                levels_up = (arr.astype(np.int64) - lo).astype(np.float32)
                expected = np.clip(np.round(levels_up * np.float32(255.0 / (hi - lo))), 0, 255).astype(np.uint8)
            else:
                expected = np.zeros(arr.shape, np.uint8)
            np.testing.assert_array_equal(to_uint8(arr, Stretch(method, low, high)), expected)
        out = to_uint8(arr, Stretch())
        got = quality(arr, out)
        expected = _numpy_measures(arr)
        for key in ("saturated_fraction", "foreground_fraction", "border_fraction"):
            assert got[key] == expected[key], (key, k)
        assert got["snr"] == pytest.approx(expected["snr"], abs=1.5e-3)  # one step of its rounding
        # sharpness: the Laplacian of the 2 x 2-binned image, in floats
        h, w = shape[0] // 2 * 2, shape[1] // 2 * 2
        o = out[:h, :w].astype(np.float64)
        b = o[0::2, 0::2] + o[1::2, 0::2] + o[0::2, 1::2] + o[1::2, 1::2]
        lap = b[:-2, 1:-1] + b[2:, 1:-1] + b[1:-1, :-2] + b[1:-1, 2:] - 4 * b[1:-1, 1:-1]
        assert got["sharpness"] == pytest.approx(lap.var() / 16, abs=1e-3)


def test_border_of_an_off_centre_field_is_its_first_largest_component():
    """With the centre in the background the largest component stands in for the nucleus; of two
    as large, the first in raster order (as scipy's ndimage.label numbers them)."""
    from bps_labeler.data.convert import _central_border_contact

    arr = np.zeros((20, 20), np.uint16)
    arr[0:3, 0:3] = 100  # first in raster order, in the corner: 8 of its 9 pixels in the frame
    arr[5:8, 12:15] = 100  # as large, inside
    frame = 20 * 20 - 16 * 16
    assert _central_border_contact(arr, 50.0) == 8 / frame
    arr[13:17, 5:9] = 100  # larger, touching nothing
    assert _central_border_contact(arr, 50.0) == 0.0


def test_big_endian_and_strided_pixels_give_the_same_results():
    """The compiled loops take native, contiguous arrays only; other libraries' arrays arrive as
    they are (a big-endian TIFF, a crop of a larger image)."""
    arr = read_tiff(REAL)
    expected_out = to_uint8(arr, Stretch())
    expected = quality(arr, expected_out)
    for other in (arr.astype(arr.dtype.newbyteorder(">")), np.asfortranarray(arr)):
        out = to_uint8(other, Stretch())
        np.testing.assert_array_equal(out, expected_out)
        assert quality(other, out) == expected
    crop = np.pad(arr, 3)[3:-3, 3:-3]  # a view into a larger array
    assert quality(crop, to_uint8(crop, Stretch())) == expected


def test_a_threshold_on_a_level_cuts_where_numpy_cut():
    """The 5th and 95th percentiles of this image average to exactly 1,174, a level 30 of its 78
    pixels hold; taken from the histogram's base and shifted back, the threshold came out a hair
    below 1,174 and counted them as foreground (fraction 0.4487 instead of 0.0641)."""
    levels_ = [931] * 3 + [1130, 1132] + [1174] * 30 + [1150] * 38 + [1216] + [1218] * 4
    arr = np.random.default_rng(0).permutation(np.array(levels_, np.uint16)).reshape(6, 13)
    got = quality(arr, to_uint8(arr, Stretch()))
    assert got["foreground_fraction"] == 0.0641 == _numpy_measures(arr)["foreground_fraction"]
    assert got["snr"] == _numpy_measures(arr)["snr"]


@pytest.mark.parametrize("errno_name", ["ENOSPC", "EDQUOT"])
def test_no_space_reported_when_the_file_is_closed_is_a_full_disk_too(tmp_path, monkeypatch, errno_name):
    """Network file systems and quotas may report a full disk only when the file is closed, and
    a quota says EDQUOT, not ENOSPC: both are one line, and no part of the file stays."""
    import errno
    import os

    from bps_labeler.utils import files

    real_close = os.close

    def close(fd: int) -> None:
        real_close(fd)
        raise OSError(getattr(errno, errno_name), os.strerror(getattr(errno, errno_name)))

    monkeypatch.setattr(files.os, "close", close)
    with pytest.raises(InputError, match=r"the disk is full \(writing x\.jpg\)\. Free some space"):
        files.write_new(tmp_path / "x.jpg", b"jpg bytes")
    assert not (tmp_path / "x.jpg").exists()


@pytest.mark.parametrize("hot", [65535, 1])
def test_a_hot_pixel_on_an_empty_field_is_no_nucleus(hot):
    """Issue 24: one 65,535 pixel on a flat field scored snr 6.5e10 and passed every threshold meant
    to leave empty fields out; one count above a black field, 1e6."""
    field = np.full((120, 120), 300 if hot > 1 else 0, np.uint16)
    field[60, 60] = hot
    q = quality(field, to_uint8(field, Stretch()))
    assert q["snr"] == 0.0 and q["foreground_fraction"] < MIN_FOREGROUND


def test_flat_frames_are_converted_and_named_in_a_warning(tmp_path, caplog):
    """A dead frame (one level everywhere) converts to a blank JPG: the snr threshold keeps it out of
    rounds, but the split could give it to people as a validation image, so the run says so."""
    raw = tmp_path / "raw"
    raw.mkdir()
    tifffile.imwrite(raw / "dead.tif", np.zeros((120, 120), np.uint16))
    tifffile.imwrite(raw / "grey.tif", np.full((120, 120), 1000, np.uint16))
    tifffile.imwrite(raw / "real.tif", tifffile.imread(REAL))
    meta = pd.DataFrame({"filename": ["dead.tif", "grey.tif", "real.tif"]})
    convert_shard(meta, 0, 1, raw, tmp_path / "s0", Stretch()).to_csv(tmp_path / "s0.tsv", sep="\t", index=False)
    with caplog.at_level(logging.WARNING, logger="bps_labeler.data.convert"):
        merged = merge_shards([tmp_path / "s0.tsv"], [tmp_path / "s0"], tmp_path / "images")
    assert len(merged) == 3 and (merged.set_index("source").loc[["dead.tif", "grey.tif"], "snr"] == 0).all()
    assert (
        "2 image(s) are one flat level (a dead or empty frame) and convert to blank JPGs, e.g. ['dead.tif', "
        "'grey.tif']; drop their rows from meta.csv." in caplog.text
    )
