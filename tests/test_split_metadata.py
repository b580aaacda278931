import json

import pandas as pd
import pytest

from bps_labeler.data.lightly_metadata import SCHEMA, metadata_table, write_metadata
from bps_labeler.data.split import stratified_split
from bps_labeler.errors import InputError


def test_split_is_stratified_and_seeded(tiny_dataset):
    _, _, meta = tiny_dataset
    split = stratified_split(meta, 0.25, seed=0)
    assert list(split.columns) == ["filename", "split"]
    assert split["filename"].str.endswith(".jpg").all()
    merged = split.assign(filename=split["filename"].str.replace(".jpg", ".tif")).merge(meta)
    per_cond = merged.groupby(["particle_type", "dose_Gy", "hr_post_exposure"])["split"].apply(
        lambda s: (s == "val").sum()
    )
    assert (per_cond == 1).all()  # 4 images per condition, 25 % -> exactly one in val
    shuffled = stratified_split(meta.sample(frac=1, random_state=5), 0.25, seed=0)
    pd.testing.assert_frame_equal(split, shuffled)  # independent of row order
    assert not split.equals(stratified_split(meta, 0.25, seed=1))


def test_split_does_not_move_when_rows_are_added(tiny_dataset):
    _, _, meta = tiny_dataset
    big = stratified_split(meta, 0.5, seed=0)
    # dropping one condition leaves the others' assignment unchanged
    small = stratified_split(meta[meta["hr_post_exposure"] != 48], 0.5, seed=0)
    assert small.merge(big, on="filename", suffixes=("_s", "_b")).eval("split_s == split_b").all()


def test_lightly_metadata_files(tmp_path, tiny_dataset):
    _, _, meta = tiny_dataset
    quality = pd.DataFrame(
        {
            "filename": meta["filename"].str.replace(".tif", ".jpg"),
            "sharpness": 1.5,
            "snr": 3.0,
            "saturated_fraction": 0.0,
            "foreground_fraction": 0.4,
            "border_fraction": 0.1,
        }
    )
    write_metadata(meta, tmp_path, quality)
    schema = json.loads((tmp_path / "schema.json").read_text())
    assert {s["path"]: s["valueDataType"] for s in schema} == {
        "dose_Gy": "NUMERIC_FLOAT",
        "particle_type": "CATEGORICAL_STRING",
        "hr_post_exposure": "NUMERIC_INT",
        "sharpness": "NUMERIC_FLOAT",
        "snr": "NUMERIC_FLOAT",
        "saturated_fraction": "NUMERIC_FLOAT",
        "foreground_fraction": "NUMERIC_FLOAT",
        "border_fraction": "NUMERIC_FLOAT",
    }
    assert schema[:3] == SCHEMA
    row = meta.iloc[0]
    rec = json.loads((tmp_path / row["filename"].replace(".tif", ".json")).read_text())
    assert rec == {
        "file_name": row["filename"].replace(".tif", ".jpg"),
        "type": "image",
        "metadata": {
            "dose_Gy": float(row["dose_Gy"]),
            "particle_type": row["particle_type"],
            "hr_post_exposure": int(row["hr_post_exposure"]),
            "sharpness": 1.5,
            "snr": 3.0,
            "saturated_fraction": 0.0,
            "foreground_fraction": 0.4,
            "border_fraction": 0.1,
        },
    }
    table = metadata_table(tmp_path)
    assert len(table) == len(meta) and table.loc[rec["file_name"], "particle_type"] == row["particle_type"]


def test_a_fixed_number_of_validation_images_stratified_by_condition():
    from bps_labeler.data.split import stratified_split

    rows = [(f"{p}_{d}_{i}.tif", d, p, 4) for p, d, n in (("Fe", 0.82, 300), ("X-ray", 1.0, 100)) for i in range(n)]
    meta = pd.DataFrame(rows, columns=["filename", "dose_Gy", "particle_type", "hr_post_exposure"])
    split = stratified_split(meta, None, seed=0, val_size=200)
    val = split.loc[split["split"] == "val", "filename"]
    assert len(val) == 200 and val.str.startswith("Fe").sum() == 150  # in proportion: 3 to 1
    bigger = pd.concat([meta, meta.assign(filename="more_" + meta["filename"])])
    assert (stratified_split(bigger, None, seed=0, val_size=200)["split"] == "val").sum() == 200  # not growing
    with pytest.raises(
        InputError, match=r"split.val_size = 400 takes all 400 images .* Lower split.val_size \(say 80\)"
    ):
        stratified_split(meta, None, seed=0, val_size=400)  # nothing left to select from


@pytest.mark.parametrize(
    "fraction, size, asked", [(None, 0, "split.val_size = 0"), (0.01, None, "val_fraction = 0.01")]
)
def test_a_split_with_no_validation_image_is_one_line(tiny_dataset, fraction, size, asked):
    _, _, meta = tiny_dataset
    with pytest.raises(InputError, match=rf"{asked} leaves no validation image among 68; every round"):
        stratified_split(meta, fraction, seed=0, val_size=size)
