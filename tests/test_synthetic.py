import hashlib
import re

import numpy as np
import pandas as pd
import tifffile

from bps_labeler.data.meta import read_meta
from bps_labeler.data.synthetic import CONDITIONS, SyntheticSpec, generate

NAME = re.compile(r"^P\d{3}_\d{11}-[A-H]\d{1,2}_\d{3}_\d{3}_proj\.tif$")


def test_covers_the_17_real_conditions_in_the_real_format(tiny_dataset):
    raw, truth, meta = tiny_dataset
    assert len(CONDITIONS) == 17
    df = read_meta(raw / "meta.csv")  # the real reader accepts it
    assert list(df.columns) == ["filename", "dose_Gy", "particle_type", "hr_post_exposure"]
    conds = set(map(tuple, df[["particle_type", "dose_Gy", "hr_post_exposure"]].values.tolist()))
    assert conds == {(p, d, h) for _, p, d, h in CONDITIONS}
    assert all(NAME.match(n) for n in df["filename"]), df["filename"].head()
    # plate and condition are confounded, as in the real data
    plates = df["filename"].str.split("_").str[0]
    assert df.groupby(plates)["dose_Gy"].nunique().max() == 1


def test_images_are_16_bit_deflate_of_variable_size(tiny_dataset):
    raw, _, meta = tiny_dataset
    shapes = set()
    for name in meta["filename"][:20]:
        with tifffile.TiffFile(raw / name) as tif:
            page = tif.pages[0]
            assert page.dtype == np.uint16
            assert page.compression == 32946  # DEFLATE, as the real DIPlib files
            shapes.add(page.shape)
            assert all(100 <= s <= 260 for s in page.shape)
    assert len(shapes) > 10


def test_truth_is_separate_and_plausible(tiny_dataset):
    raw, truth_csv, meta = tiny_dataset
    assert "label" not in pd.read_csv(raw / "meta.csv").columns
    truth = pd.read_csv(truth_csv).merge(meta)
    assert set(truth["label"]) == {"track", "no track"}
    # only Fe nuclei that a particle crossed show tracks; X-ray and controls never do
    tracks = truth[truth["label"] == "track"]
    assert (tracks["particle_type"] == "Fe").all() and (tracks["dose_Gy"] > 0).all()
    assert (tracks["n_tracks"] > 0).all()


def test_hit_rate_and_foci_follow_dose():
    rows = []
    spec = SyntheticSpec(n_images=17 * 30, seed=1, artefact_fraction=0.0)
    from bps_labeler.data.synthetic import render_nucleus

    for i in range(spec.n_images):
        _, p, d, h = CONDITIONS[i % 17]
        _, t = render_nucleus(np.random.default_rng([1, i]), p, d, h, spec)
        rows.append((p, d, h, t.label == "track", t.n_foci))
    df = pd.DataFrame(rows, columns=["p", "d", "h", "track", "foci"])
    fe4 = df[(df.p == "Fe") & (df.h == 4)].groupby("d")["track"].mean()
    assert fe4[0.0] == 0 and 0 < fe4[0.3] < fe4[0.82] < 1  # some Fe nuclei are not hit
    x = df[df.p == "X-ray"].groupby(["d", "h"])["foci"].mean()
    assert x[(1.0, 4)] > x[(0.1, 4)] > x[(0.0, 4)]  # foci rise with dose
    assert x[(1.0, 4)] > x[(1.0, 48)]  # and fall with time


def test_deterministic_from_seed(tmp_path):
    def digest(d):
        return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(d.iterdir()))).hexdigest()

    generate(tmp_path / "a", tmp_path / "ta.csv", SyntheticSpec(n_images=20, seed=7))
    generate(tmp_path / "b", tmp_path / "tb.csv", SyntheticSpec(n_images=20, seed=7))
    generate(tmp_path / "c", tmp_path / "tc.csv", SyntheticSpec(n_images=20, seed=8))
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")
    assert (tmp_path / "ta.csv").read_bytes() == (tmp_path / "tb.csv").read_bytes()


def test_workers_change_nothing_but_the_time(tmp_path):
    """Rendering in parallel gives the same names, files and truth as one process, collisions included."""
    spec = SyntheticSpec(n_images=200, seed=7)
    one = generate(tmp_path / "one", tmp_path / "t1.csv", spec, workers=1)
    two = generate(tmp_path / "two", tmp_path / "t2.csv", spec, workers=2)
    pd.testing.assert_frame_equal(one, two)
    assert (tmp_path / "t1.csv").read_bytes() == (tmp_path / "t2.csv").read_bytes()
    for name in one["filename"]:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    assert not list((tmp_path / "two").glob(".render-*"))


def test_generator_knobs_change_what_they_say_and_the_defaults_change_nothing():
    from bps_labeler.data.synthetic import render_nucleus

    def fe_hits(**knobs):
        spec = SyntheticSpec(artefact_fraction=0.0, **knobs)
        out = [render_nucleus(np.random.default_rng([3, i]), "Fe", 0.82, 4, spec) for i in range(60)]
        return out

    base = fe_hits()
    same = fe_hits(foci_size=1.0, foci_gap=1.0, track_length=0.9, background=257.0, noise=12.0)
    assert all((a[0] == b[0]).all() for a, b in zip(base, same))  # the built-in data set, bit for bit
    tracks = sum(t.label == "track" for _, t in base)
    # fewer foci on a track (wider gaps, shorter tracks) make fewer nuclei a person would call a track
    assert sum(t.label == "track" for _, t in fe_hits(foci_gap=3.0, track_length=0.4)) < tracks / 2
    assert sum(t.label == "track" for _, t in fe_hits(fe_hits_per_gy=0.3)) < tracks / 2  # fewer hit nuclei
    dark = fe_hits(background=2000.0)
    assert np.median([img.min() for img, _ in dark]) > np.median([img.min() for img, _ in base]) + 1000


def test_biology_knobs_make_hard_negatives_fade_late_foci_and_vary_crops():
    from bps_labeler.data.synthetic import render_nucleus

    def render(hours=4, n=80, **knobs):
        spec = SyntheticSpec(artefact_fraction=0.0, **knobs)
        return [render_nucleus(np.random.default_rng([5, i]), "Fe", 0.82, hours, spec) for i in range(n)]

    base = render()
    defaults = render(steep_share=0.0, fading=0.0, aspect_spread=0.15, hits_by_area=False)
    assert all((a[0] == b[0]).all() for a, b in zip(base, defaults))  # the built-in data set, bit for bit

    # steep traversals: hit nuclei without a track a person would see
    def hit_without_track(images):
        return sum(t.n_tracks > 0 and t.label == "no track" for _, t in images)

    assert hit_without_track(render(steep_share=0.6)) >= hit_without_track(base) + 10

    # fading acts late only: 4 h unchanged, at 48 h fewer foci and fewer visible tracks
    assert all((a[0] == b[0]).all() for a, b in zip(base, render(fading=0.8)))
    late, faded = render(hours=48), render(hours=48, fading=0.8)
    assert sum(t.n_foci for _, t in faded) < 0.8 * sum(t.n_foci for _, t in late)
    assert sum(t.label == "track" for _, t in faded) < sum(t.label == "track" for _, t in late)

    # crops: wider aspect ratios
    def aspects(images):
        return [img.shape[1] / img.shape[0] for img, _ in images]

    assert np.ptp(aspects(render(aspect_spread=0.5))) > np.ptp(aspects(base)) + 0.3

    # traversals follow the nucleus' area: bigger crops (bigger nuclei) are crossed more often
    def area_tracks(images):
        return np.corrcoef([img.size for img, _ in images], [t.n_tracks for _, t in images])[0, 1]

    assert area_tracks(render(n=200, hits_by_area=True)) > area_tracks(render(n=200)) + 0.15
