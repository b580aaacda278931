"""The command-line tools beside Snakemake: a mistake in their arguments is one line, not a traceback."""

from __future__ import annotations

import json

import pytest

from bps_labeler.data import pins
from bps_labeler.errors import InputError
from bps_labeler.workflow import experiments, versioning


def test_a_setting_that_is_not_yaml_is_named():
    with pytest.raises(InputError) as err:
        experiments.parse_settings(["train.epochs=["])
    assert str(err.value) == (
        "--set 'train.epochs=[': the value is not valid YAML (expected the node content, but found '<stream end>'); "
        "quote it or close its brackets, for example train.probe_c=1.0 or 'filter.hours=[4, 24]'."
    )


def test_an_experiment_of_a_folder_without_a_run_is_named(tmp_path):
    with pytest.raises(InputError) as err:
        experiments.prepare(tmp_path, "x1", {}, experiments.Path("config/config.yaml"))
    assert str(err.value) == (
        f"{tmp_path}/config/config.yaml: no such config; --repo names the folder of a finished run (the "
        "repository), --configfile its config relative to that folder."
    )


def test_versioning_of_a_folder_that_does_not_exist_is_one_line(capsys):
    assert versioning.main(["restore", "--repo", "/does/not/exist"]) == 1
    assert capsys.readouterr().err == (
        "ERROR: --repo /does/not/exist: no such folder; name the repository the run works in.\n"
    )


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "empty; expected a download manifest"),
        (
            "filename\tsha256\na.tif\tabc\n",
            "not a download manifest (resources/raw/shards/download_<n>.tsv; rerun its download job): "
            "no column(s) status (found filename, sha256).",
        ),
    ],
)
def test_pins_of_a_manifest_that_is_empty_or_another_file_is_one_line(tmp_path, capsys, text, said):
    manifest = tmp_path / "download_0.tsv"
    manifest.write_text(text)
    assert pins.main([str(manifest)]) == 1
    assert capsys.readouterr().err.startswith(f"ERROR: {manifest}: {said}")


def test_one_command_lists_what_users_run_beside_snakemake(capsys):
    from bps_labeler import cli

    assert cli.main([]) == 0
    listed = capsys.readouterr().out
    for name in ("status", "labelstudio", "save", "restore", "experiment", "pins", "synthesize"):
        assert f"  {name} " in listed
    assert cli.main(["unpack"]) == 2 and "no command 'unpack'" in capsys.readouterr().err
    for name in cli.COMMANDS:
        with pytest.raises(SystemExit) as done:
            cli.main([name, "--help"])
        assert done.value.code == 0 and "usage: bps-labeler" in capsys.readouterr().out


def test_status_says_where_each_set_stands(tmp_path, capsys):
    from bps_labeler import cli
    from bps_labeler.labeling.store import give

    names = ["a.jpg", "b.jpg"]
    selection = {"round": 1, "selected": [{"filename": n} for n in names]}
    (tmp_path / "results" / "round_1").mkdir(parents=True)
    (tmp_path / "results" / "round_1" / "selection.json").write_text(json.dumps(selection))
    (tmp_path / "results" / "round_2").mkdir()
    (tmp_path / "results" / "round_2" / "selection.json").write_text(json.dumps({**selection, "round": 2}))
    give("round_1", names, "file", selection=selection, store=tmp_path / "annotations")
    give("round_2", names, "file", selection=selection, store=tmp_path / "annotations")
    report = {"n_labeled": 2, "n_expected": 2, "skipped": []}
    (tmp_path / "results" / "round_1" / "annotation_report.json").write_text(json.dumps(report))
    (tmp_path / "results" / "round_1" / "model.ckpt").write_bytes(b"")
    undecided = {"model": {"balanced_accuracy": 0.9125}, "metadata_rule": {"balanced_accuracy": 0.5}}
    metrics = {"baselines": {"undecided": undecided}}
    (tmp_path / "results" / "round_1" / "metrics.json").write_text(json.dumps(metrics))
    assert cli.main(["status", "-d", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "set",
        "selected",
        "given",
        "to",
        "labeled",
        "model",
        "undecided",
        "bal.",
        "acc.",
        "(rule)",
    ]
    assert lines[1].split() == ["validation", "-", "-", "-", "-", "-"]
    assert lines[2].startswith("round 1") and "people (file)" in lines[2] and "2 / 2" in lines[2]
    assert lines[2].rstrip().endswith("yes    0.912 (0.500)")
    assert lines[3].startswith("round 2") and "waiting for people's export" in lines[3]
