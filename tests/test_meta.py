import pandas as pd
import pytest
from conftest import SHARED_BPS, write_csv

from bps_labeler.data.meta import filter_meta, read_meta
from bps_labeler.errors import InputError

HEADER = "filename,dose_Gy,particle_type,hr_post_exposure\n"
ROW = "P242_73665006707-A6_003_013_proj.tif,0.82,Fe,4\n"


def test_reads_the_real_meta_csv():
    df = read_meta(SHARED_BPS / "meta.csv")
    assert len(df) == 77177
    assert df["hr_post_exposure"].dtype.kind == "i" and df["dose_Gy"].dtype.kind == "f"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("filename,dose_Gy,particle_type\n" + "a.tif,1,Fe\n", "missing column(s) hr_post_exposure"),
        (HEADER + ROW + ROW, "row 3: duplicate filename 'P242_73665006707-A6_003_013_proj.tif' (first at row 2)"),
        (HEADER + "../secret.tif,0.82,Fe,4\n", "row 2: filename '../secret.tif' is not a plain file name"),
        (HEADER + "sub/x.tif,0.82,Fe,4\n", "row 2: filename 'sub/x.tif' is not a plain file name"),
        (HEADER + ROW + "b.tif,0.82,Neutron,4\n", "row 3: unknown particle_type 'Neutron'; allowed: Fe, X-ray"),
        (HEADER + "b.tif,high,Fe,4\n", "row 2: dose_Gy = 'high' is not a non-negative number"),
        (HEADER + "b.tif,1,Fe,4.5\n", "row 2: hr_post_exposure = '4.5' is not a non-negative integer"),
        (HEADER + "b.png,1,Fe,4\n", "row 2: filename 'b.png' is not a .tif file"),
        ("", "the file is empty"),
        (HEADER, "a header but no rows"),
        (HEADER + "b.tif,inf,Fe,4\n", "row 2: dose_Gy = 'inf' is not a non-negative number"),
        (HEADER + '"b\tc.tif",1,Fe,4\n', "row 2: filename 'b\\tc.tif' has a control character"),
        (HEADER + '"b\nc.tif",1,Fe,4\n', "row 2: filename 'b\\nc.tif' has a control character"),
        (HEADER + "b.tif,0,82,Fe,4\n", "row 2: expected 4 fields, saw 5"),  # a decimal comma
        (HEADER.rstrip("\n") + ",dose_Gy\n" + "b.tif,1,Fe,4,2\n", "column 'dose_Gy' appears twice"),
    ],
)
def test_bad_meta_names_the_row(tmp_path, text, expected):
    path = write_csv(tmp_path / "meta.csv", text)
    with pytest.raises(InputError) as err:
        read_meta(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_meta_that_is_not_utf8_text_or_not_a_file(tmp_path):
    latin1 = tmp_path / "latin1" / "meta.csv"
    latin1.parent.mkdir()
    latin1.write_bytes((HEADER + "b.tif,1,Fe,4\n").replace("b.tif", "caf\u00e9.tif").encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1/meta.csv: not UTF-8 text \(byte 0xe9 at line 2\)"):
        read_meta(latin1)
    folder = tmp_path / "dir" / "meta.csv"
    folder.mkdir(parents=True)
    with pytest.raises(InputError, match=r"dir/meta.csv: is a folder, not a CSV file"):
        read_meta(folder)


def test_tutorial_filter_keeps_high_dose_4h():
    df = read_meta(SHARED_BPS / "meta.csv")
    kept = filter_meta(df, {"particle_types": ["Fe", "X-ray"], "dose_min": 0.8, "hours": [4]})
    assert len(kept) == 4416 + 4450  # Fe 0.82 Gy 4 h + X-ray 1.0 Gy 4 h = the tutorial's 8,866
    assert set(kept["dose_Gy"]) == {0.82, 1.0} and set(kept["hr_post_exposure"]) == {4}
    assert kept["filename"].is_monotonic_increasing


def test_filter_that_keeps_nothing_says_what_exists(tiny_dataset):
    _, _, meta = tiny_dataset
    with pytest.raises(InputError, match=r"keeps no row of 68.*hours \[4, 24, 48\]"):
        filter_meta(meta, {"hours": [72]})


def test_cap_keeps_every_condition(tiny_dataset):
    _, _, meta = tiny_dataset
    capped = filter_meta(meta, {"max_images": 34})
    assert len(capped) == 34
    assert capped.groupby(["particle_type", "dose_Gy", "hr_post_exposure"]).ngroups == 17
    pd.testing.assert_frame_equal(capped, filter_meta(meta.sample(frac=1, random_state=1), {"max_images": 34}))


def test_a_cap_keeps_every_condition_in_proportion_and_refuses_fewer_images_than_conditions():
    """Issue 24: 30 over 17 conditions used to drop X-ray 1.0 Gy at 24 h and 48 h (the last in sort
    order), a cap of 2 kept only Fe."""
    meta = read_meta(SHARED_BPS / "meta.csv")
    conditions = ["particle_type", "dose_Gy", "hr_post_exposure"]
    for cap in (17, 30, 100):
        capped = filter_meta(meta, {"max_images": cap})
        sizes = capped.groupby(conditions).size()
        assert len(capped) == cap and len(sizes) == 17 and sizes.min() >= 1
        assert sizes.max() - sizes.min() <= 1  # the real conditions are of nearly equal size
    with pytest.raises(InputError) as err:
        filter_meta(meta, {"max_images": 2})
    assert str(err.value) == (
        "filter.max_images = 2 is fewer than the 17 conditions (particle, dose, hours) the filter keeps; "
        "each condition needs at least one image. Set max_images to at least 17, or narrow the filter to "
        "fewer conditions."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEADER + " a.tif,0.82,Fe,4\n", "row 2: filename ' a.tif' begins or ends with a space, which a spreadsheet"),
        (HEADER + "a.tif ,0.82,Fe,4\n", "row 2: filename 'a.tif ' begins or ends with a space"),
        (
            HEADER + ".tif,0.82,Fe,4\n",
            "row 2: filename '.tif' begins with a dot (no name before .tif, or a hidden file); rename the image "
            "and its row.",
        ),
        (HEADER + ".a.tif,0.82,Fe,4\n", "row 2: filename '.a.tif' begins with a dot"),
        (HEADER + "a\0.tif,0.82,Fe,4\n", "row 2: filename 'a\\x00.tif' has a control character"),
        (
            HEADER + "a.tif,0.82,Fe,99999999999999999999999\n",
            "row 2: hr_post_exposure = '99999999999999999999999' is out of range (at most 1,000,000); check the row.",
        ),
        (HEADER + ROW + "\n\nb.tif,0.82,Neutron,4\n", "row 5: unknown particle_type 'Neutron'"),  # blank lines counted
        (
            "filename;dose_Gy;particle_type;hr_post_exposure\na.tif;0,82;Fe;4\n",
            "meta.csv: the fields are separated by semicolons, not commas (as a spreadsheet in some languages saves "
            "CSV). Save it as comma-separated CSV with points for decimals.",
        ),
        (HEADER.replace(",", "\t") + "a.tif\t0.82\tFe\t4\n", "meta.csv: the fields are separated by tabs, not commas"),
    ],
)
def test_spreadsheet_habits_are_named_by_row(tmp_path, text, expected):
    """The second sweep: these read as a missing file, a wrong column or the wrong row before."""
    path = write_csv(tmp_path / "meta.csv", text)
    with pytest.raises(InputError) as err:
        read_meta(path)
    assert f"{path}" in str(err.value) and expected in str(err.value)


def test_spaces_around_header_names_and_whitespace_lines_are_harmless(tmp_path):
    text = "filename, dose_Gy, particle_type, hr_post_exposure\n" + ROW + "   \n" + "b.tif,1,X-ray,24\n"
    df = read_meta(write_csv(tmp_path / "meta.csv", text))
    assert df["filename"].tolist() == ["P242_73665006707-A6_003_013_proj.tif", "b.tif"]
    assert df["hr_post_exposure"].tolist() == [4, 24]


def test_a_spreadsheets_csv_utf8_with_its_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + ROW).encode())
    assert read_meta(path)["filename"].tolist() == ["P242_73665006707-A6_003_013_proj.tif"]


def test_a_cap_never_drops_an_image_people_were_given():
    """A cap whose shares change (the rule that keeps every condition, a new max_images) must not
    drop images people labeled: their labels would be refused as out of the pool."""
    meta = read_meta(SHARED_BPS / "meta.csv")
    capped = filter_meta(meta, {"max_images": 30})
    given = sorted(set(meta["filename"]) - set(capped["filename"]))[:5]
    kept = filter_meta(meta, {"max_images": 30}, given=given)
    assert set(given) <= set(kept["filename"])
    # the given images take their condition's places first; the others keep theirs
    assert 30 <= len(kept) <= 30 + len(given)
