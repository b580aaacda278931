"""The command-line tools beside Snakemake: a mistake in their arguments is one line, not a traceback."""

from __future__ import annotations

import pytest

from bps_labeler import experiments, pins, versioning
from bps_labeler.errors import InputError


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
