"""The classical foci-and-line features see what a person sees: spots, and spots in a line."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from bps_labeler.models.foci import NAMES, best_line, detect_foci, line_features


def nucleus(spots: list[tuple[float, float]], seed: int = 0, amplitude: float = 110.0) -> np.ndarray:
    """A textured nucleus on a dark, noisy field with 2-px foci of `amplitude` at `spots`."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:160, 0:160]
    img = 20 + 90 * (((yy - 80) / 60) ** 2 + ((xx - 80) / 55) ** 2 < 1)
    img = img + ndimage.gaussian_filter(rng.normal(0, 6, img.shape), 2.5) + rng.normal(0, 2, img.shape)
    for y, x in spots:
        img += amplitude * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.6**2))
    return np.clip(img, 0, 255).astype(np.uint8)


LINE = [(40 + 9 * k, 45 + 7 * k) for k in range(9)]  # a track across the nucleus
SCATTERED = [(50, 60), (110, 40), (70, 120), (95, 95), (40, 90), (120, 110), (80, 50), (60, 75), (105, 65)]


def test_foci_are_found_where_they_are():
    found = detect_foci(nucleus(SCATTERED))
    assert len(found) == len(SCATTERED)
    assert max(min(np.hypot(*(f - np.array(s))) for f in found) for s in SCATTERED) <= 1.5
    assert len(detect_foci(nucleus([]))) <= 1  # texture and noise are not foci


def test_a_line_of_foci_scores_above_the_same_foci_scattered():
    line, scattered = line_features(nucleus(LINE)), line_features(nucleus(SCATTERED))
    on_line = NAMES.index("line_foci")
    assert line[on_line] == len(LINE) and scattered[on_line] <= 4
    assert line[NAMES.index("line_excess")] > scattered[NAMES.index("line_excess")] + 4
    assert line[NAMES.index("log_foci")] == scattered[NAMES.index("log_foci")]  # same count: only the line differs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_faded_track_is_missed_by_the_bright_look_and_found_by_the_faint_one(seed):
    line, scattered = line_features(nucleus(LINE, seed, 15.0)), line_features(nucleus(SCATTERED, seed, 15.0))
    assert line[NAMES.index("line_foci")] <= 2  # below THRESHOLD_SIGMAS
    assert line[NAMES.index("faint_line_foci")] == len(LINE)
    assert scattered[NAMES.index("faint_line_foci")] <= 4
    assert line[NAMES.index("faint_line_excess")] > scattered[NAMES.index("faint_line_excess")] + 4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_radon_transform_sees_a_line_too_faint_for_any_focus(seed):
    line, scattered = line_features(nucleus(LINE, seed, 12.0)), line_features(nucleus(SCATTERED, seed, 12.0))
    assert line[NAMES.index("line_foci")] == 0 and line[NAMES.index("faint_line_foci")] < len(LINE)
    assert line[NAMES.index("radon_contrast")] > 2 * scattered[NAMES.index("radon_contrast")]
    assert line[NAMES.index("radon_share")] > 1.2 * scattered[NAMES.index("radon_share")]
    bright = line_features(nucleus(LINE, seed))
    assert bright[NAMES.index("radon_contrast")] > line[NAMES.index("radon_contrast")]  # brighter, clearer


def test_best_line_counts_collinear_points_and_their_extent():
    points = np.array([[0, 0], [10, 10], [20, 20], [30, 30], [0, 30], [30, 0]], dtype=float)
    count, extent = best_line(points)
    assert count == 4 and abs(extent - np.hypot(30, 30)) < 1e-6
    assert best_line(np.zeros((1, 2))) == (1, 0.0)


def test_two_threads_give_the_same_features_in_the_same_order(tmp_path):
    from PIL import Image

    from bps_labeler.errors import InputError
    from bps_labeler.models.foci import image_features

    names = []
    for k in range(6):
        spots = LINE if k % 2 else SCATTERED
        Image.fromarray(nucleus(spots[: 3 + k], seed=k)).save(tmp_path / f"{k}.jpg")
        names.append(f"{k}.jpg")
    one = image_features(tmp_path, names)
    assert np.array_equal(image_features(tmp_path, names, threads=2), one)
    assert np.array_equal(image_features(tmp_path, names[::-1], threads=2), one[::-1])
    assert len({tuple(row) for row in one}) == 6  # six different images, six different rows
    with pytest.raises(InputError, match="gone.jpg: image missing"):
        image_features(tmp_path, [*names, "gone.jpg"], threads=2)
