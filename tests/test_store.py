"""The label store: written once, never replaced, and guarded against another labeler."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from bps_labeler.data.split import stratified_split
from bps_labeler.errors import InputError
from bps_labeler.labeling.store import (
    LabelsPending,
    check_in_pool,
    check_labeler,
    export_path,
    fixed_split,
    give,
    given_path,
    hand_out,
    kept_selection,
    read_given,
    read_store,
    write_once,
)
from bps_labeler.utils.config_values import coerce


def test_write_once_never_replaces_a_file(tmp_path):
    path = tmp_path / "store" / "round_1.json"
    assert write_once(path, "people's labels\n")
    assert not write_once(path, "something else\n")
    assert path.read_text() == "people's labels\n"
    assert [p.name for p in path.parent.iterdir()] == ["round_1.json"]  # no temporary file left


def test_a_lock_keeps_the_first_selection_and_refuses_another(tmp_path):
    selection = {"round": 1, "config": {"n_samples": 2}, "selected": [{"filename": "a.jpg"}, {"filename": "b.jpg"}]}
    first = give("round_1", ["a.jpg", "b.jpg"], "file", selection=selection, store=tmp_path)
    again = give("round_1", ["b.jpg", "a.jpg"], "file", selection=selection, store=tmp_path)
    assert again == first and first.labeler == "people"
    assert kept_selection(1, tmp_path) == selection
    assert kept_selection(2, tmp_path) is None
    with pytest.raises(InputError, match=r"round 1 was given to backend file \(people\) .* 2 other images than the 3"):
        give("round_1", ["a.jpg", "b.jpg", "c.jpg"], "file", store=tmp_path)
    assert read_given(given_path("round_1", tmp_path)).filenames == ["a.jpg", "b.jpg"]


@pytest.mark.parametrize(
    ("labeled_by", "configured", "refused"),
    [
        (("labelstudio", "none"), ("oracle", "none"), True),  # the resume command without its config
        (("labelstudio", "none"), ("labelstudio", "oracle"), True),  # simulated answers into a people's run
        (("labelstudio", "oracle"), ("labelstudio", "none"), True),  # a demo's answers into a people's run
        (("file", "none"), ("oracle", "none"), True),
        (("labelstudio", "none"), ("file", "none"), False),  # both are people; both read the store
        (("file", "none"), ("labelstudio", "none"), False),
    ],
)
def test_another_labeler_is_refused_naming_the_set_and_both_backends(tmp_path, labeled_by, configured, refused):
    give("round_1", ["a.jpg"], labeled_by[0], labeled_by[1], store=tmp_path)
    if not refused:
        check_labeler(*configured, store=tmp_path)
        return
    with pytest.raises(InputError) as err:
        check_labeler(*configured, store=tmp_path)
    msg = str(err.value)
    assert f"round 1 was given to backend {labeled_by[0]}" in msg
    assert f"configured backend {configured[0]}" in msg
    assert "Nothing was changed" in msg and "mv annotations annotations.old" in msg


def test_an_empty_store_accepts_any_backend(tmp_path):
    for backend in ("oracle", "labelstudio", "file"):
        check_labeler(backend, store=tmp_path / "annotations")


def test_a_damaged_lock_is_named(tmp_path):
    given_path("round_1", tmp_path).write_text("{not json")
    with pytest.raises(InputError, match=r"round_1.selection.json: not a label-store record"):
        check_labeler("file", store=tmp_path)


def test_labeled_images_keep_their_side_of_the_split(tmp_path):
    import pandas as pd

    meta = pd.DataFrame(
        {
            "filename": [f"img{i}.tif" for i in range(40)],
            "particle_type": ["Fe"] * 40,
            "dose_Gy": [0.82] * 40,
            "hr_post_exposure": [4] * 40,
        }
    )
    before = stratified_split(meta, 0.2, seed=0)
    val = before.loc[before["split"] == "val", "filename"].tolist()
    train = before.loc[before["split"] == "train", "filename"].tolist()
    give("validation", val[:3], "file", store=tmp_path)
    give("round_1", train[:5], "file", store=tmp_path)
    fixed = fixed_split(tmp_path)
    after = stratified_split(meta, 0.5, seed=7, fixed=fixed).set_index("filename")["split"]  # a new fraction and seed
    assert all(after[n] == "val" for n in val[:3]) and all(after[n] == "train" for n in train[:5])
    assert (after == "val").sum() == 20  # the labeled ones count towards the quota, not beside it
    small = stratified_split(meta, None, seed=7, fixed=fixed, val_size=2).set_index("filename")["split"]
    assert sorted(small[small == "val"].index) == sorted(val[:3])  # labeled validation is never dropped
    give("round_2", [val[0]], "file", store=tmp_path)
    with pytest.raises(InputError, match="both a validation image and a training image"):
        fixed_split(tmp_path)


def test_nested_config_strings_take_the_schemas_types():
    schema = {
        "type": "object",
        "properties": {
            "a": {
                "type": "object",
                "properties": {
                    "t": {"type": "number", "exclusiveMinimum": 0},
                    "b": {"type": "boolean"},
                    "s": {"type": "string"},
                    "e": {"enum": ["none", "oracle"]},
                },
            }
        },
    }
    config = {"a": {"t": "60", "b": "false", "s": "007", "e": "none"}}
    assert sorted(coerce(config, schema)) == ["a.b", "a.t"]
    assert config == {"a": {"t": 60, "b": False, "s": "007", "e": "none"}}
    bad = {"a": {"t": "sixty"}}
    coerce(bad, schema)
    assert bad == {"a": {"t": "sixty"}}  # left for the schema to report


def test_export_and_lock_names(tmp_path):
    assert export_path("round_2", tmp_path).name == "round_2.json"
    assert given_path("validation", tmp_path).name == "validation.selection.json"
    json.loads(give("validation", ["x.jpg"], "labelstudio", where="http://h project 'p'", store=tmp_path).to_json())


def test_exports_from_before_records_are_refused_by_a_simulator_and_recorded_by_no_one_early(tmp_path):
    """A store written before selections were recorded: people's, so a simulator is refused; the
    handout does not record the selection of the moment (the annotate job records it once the
    export is checked against it)."""
    store = tmp_path / "annotations"
    store.mkdir()
    (store / "round_1.json").write_text("[]")
    (store / "notes.json").write_text("{}")  # not a set: ignored
    with pytest.raises(InputError, match=r"round 1 has people's export .*round_1.json"):
        check_labeler("oracle", store=store)
    selection = {"round": 1, "config": {}, "selected": [{"filename": "a.jpg"}]}
    assert hand_out("round_1", ["a.jpg"], "file", selection, "results/data/images", store) is None
    assert not given_path("round_1", store).exists()


def test_a_set_is_recorded_when_it_is_handed_out_and_never_after(tmp_path):
    """The `file` backend: the images are recorded before any export exists; a later selection
    (a changed config) cannot replace them, and the run waits, naming where the export goes."""
    store = tmp_path / "annotations"
    first = {"round": 1, "config": {"n_samples": 2}, "selected": [{"filename": "a.jpg"}, {"filename": "b.jpg"}]}
    with pytest.raises(
        LabelsPending, match=r"round 1 is handed out to people: its 2 images .* export as .*/round_1.json; then rerun"
    ):
        hand_out("round_1", ["a.jpg", "b.jpg"], "file", first, "results/data/images", store)
    record = given_path("round_1", store).read_bytes()
    with pytest.raises(LabelsPending):  # a rerun before people are done: the same record
        hand_out("round_1", ["a.jpg", "b.jpg"], "file", first, "results/data/images", store)
    later = {"round": 1, "config": {"n_samples": 2, "seed": 1}, "selected": [{"filename": "c.jpg"}]}
    with pytest.raises(InputError, match=r"other images than the 1 now selected"):
        hand_out("round_1", ["c.jpg"], "file", later, "results/data/images", store)
    export_path("round_1", store).write_text("[]")
    assert hand_out("round_1", ["c.jpg"], "file", later, "results/data/images", store).filenames == ["a.jpg", "b.jpg"]
    assert given_path("round_1", store).read_bytes() == record
    assert kept_selection(1, store) == first


def test_images_that_left_the_pool_are_named(tmp_path):
    give("round_1", ["a.jpg", "b.jpg"], "file", store=tmp_path)
    check_in_pool(1, ["a.jpg", "b.jpg"], ["a.jpg", "b.jpg", "c.jpg"], tmp_path)
    with pytest.raises(InputError, match=r"1 of the 2 images round 1 gave to people are no longer in the pool"):
        check_in_pool(1, ["a.jpg", "b.jpg"], ["a.jpg"], tmp_path)


def test_only_a_sets_own_record_counts(tmp_path):
    """The second sweep: a stale copy kept aside (round_1_old.selection.json) sorted after the real
    record and stood for round 1; an unrelated labels.selection.json stopped every run."""
    give("round_1", ["a.jpg", "b.jpg"], "file", store=tmp_path)
    real = given_path("round_1", tmp_path).read_text()
    (tmp_path / "round_1_old.selection.json").write_text(real.replace("b.jpg", "z.jpg"))
    (tmp_path / "round_1 copy.selection.json").write_text(real.replace("b.jpg", "y.jpg"))
    (tmp_path / "labels.selection.json").write_text("{}")
    assert {n: g.filenames for n, g in read_store(tmp_path).items()} == {"round_1": ["a.jpg", "b.jpg"]}
    given_path("round_2", tmp_path).write_text(real)  # round 1's record copied under round 2's name
    with pytest.raises(InputError) as err:
        read_store(tmp_path)
    assert str(err.value) == (
        f"{tmp_path}/round_2.selection.json: the record says it is round 1's, but its name says round 2's. "
        "Restore it from git/DVC rather than renaming or copying records."
    )


def test_an_export_saved_under_a_near_name_is_pointed_out(tmp_path):
    (tmp_path / "round_02.json").write_text("[]")
    with pytest.raises(LabelsPending) as err:
        hand_out(
            "round_2",
            ["a.jpg"],
            "file",
            {"round": 2, "selected": [{"filename": "a.jpg"}]},
            "results/data/images",
            tmp_path,
        )
    assert (
        f"save the export as {tmp_path}/round_2.json ({tmp_path}/round_02.json is there: rename it to "
        "round_2.json if it is this set's export); then rerun" in str(err.value)
    )


@pytest.mark.parametrize(
    ("edit", "damage"),
    [
        (lambda r: r.update(filenames=r["filenames"][0]), "its filenames are not a list of names"),
        (lambda r: r.update(filenames=r["filenames"][1:]), "its filenames were changed after it was written"),
        (
            lambda r: (
                r.update(filenames=r["filenames"][1:], filenames_sha256=None)
                or r["selection"].update(selected=r["selection"]["selected"][1:])
            ),
            "its filenames were changed after it was written",
        ),
        (
            lambda r: r.pop("filenames_sha256") and r["selection"].update(selected=r["selection"]["selected"][1:]),
            "its filenames and its selection name different images",
        ),
    ],
)
def test_a_record_edited_by_hand_is_named_as_such(tmp_path, edit, damage):
    """The second sweep: a record whose filenames became a string was read as its characters
    ('37 other images'), one missing name as '19 other images than the 20', and an image dropped
    from both lists was blamed on people's export."""
    names = ["a.jpg", "b.jpg", "c.jpg"]
    give("round_1", names, "file", selection={"round": 1, "selected": [{"filename": n} for n in names]}, store=tmp_path)
    path = given_path("round_1", tmp_path)
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    with pytest.raises(InputError) as err:
        read_store(tmp_path)
    assert str(err.value) == (
        f"{path}: this record of what people were given was edited: {damage}. Restore it from git/DVC "
        f"(git checkout -- {path}); to leave an image out, leave its label out of the export (or skip it "
        "in Label Studio) instead."
    )


def test_records_are_readable_by_the_lab_and_an_unwritable_store_is_one_line(tmp_path):
    """The second sweep: records were written 0600 (tempfile's mode) whatever the umask, so a
    colleague's run stopped on a PermissionError; a read-only store was a traceback."""
    old = os.umask(0o022)
    try:
        give("round_1", ["a.jpg"], "file", store=tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(given_path("round_1", tmp_path).stat().st_mode) == 0o644
    store = tmp_path / "ro"
    store.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(store)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        with pytest.raises(InputError) as err:
            give("round_2", ["a.jpg"], "file", store=store)
    finally:
        subprocess.run(["umount", str(store)], check=False)
    assert str(err.value) == (
        f"{store}: cannot write round_2.selection.json there (Read-only file system). The label store must "
        "be writable by whoever runs the pipeline: it records what people were given. Make it writable (or "
        "run as its owner) and rerun; nothing was lost."
    )
