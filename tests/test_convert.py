from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml
from conftest import SHARED_BPS
from PIL import Image

from bps_labeler.convert import (
    QUALITY_COLUMNS,
    Stretch,
    convert_one,
    convert_shard,
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
    from bps_labeler.synthetic import SyntheticSpec, render_nucleus

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
    from bps_labeler.selection import passes_threshold

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())
    failed = []
    for item in cfg["selection"][0]["strategies"]:
        if item["strategy"]["type"] == "THRESHOLD":
            key = item["input"]["key"]
            if not passes_threshold(item["strategy"], np.array([measures[key]]))[0]:
                failed.append(key)
    return failed


def test_default_thresholds_keep_the_real_image_and_catch_every_synthetic_artefact():
    from bps_labeler.synthetic import ARTEFACTS, SyntheticSpec, render_nucleus

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
    with pytest.raises(InputError, match="the disk is full"):
        for i in range(100):
            convert_one(src, small_disk / f"n{i}.jpg", Stretch())
    assert not list(small_disk.glob(".*.tmp"))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.uint64])
def test_histogram_percentiles_equal_numpys(dtype):
    from bps_labeler.convert import _percentiles

    rng = np.random.default_rng(3)
    for shape in ((1, 1), (7, 9), (178, 196)):
        arr = rng.integers(-50 if np.issubdtype(dtype, np.signedinteger) else 0, 250, shape).astype(dtype)
        qs = (0.5, 5.0, 50.0, 95.0, 99.8)
        np.testing.assert_allclose(_percentiles(arr, qs), np.percentile(arr.astype(np.float64), qs))
