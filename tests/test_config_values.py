"""Config values: converted by type, then checked for range, each mistake one line naming its key."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import REPO
from workflows import make_workdir, snakemake, tiny_config

from bps_labeler.errors import InputError
from bps_labeler.selection.config import validate_config as validate_selection
from bps_labeler.utils.config_values import check_config_file, coerce, schema_problem

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
WHERE = "config (workflow/schemas/config.schema.yaml)"


def problem(**changes: dict) -> str | None:
    """The message for the tiny config with `changes` merged in a level deep, as `--config` does."""
    cfg = copy.deepcopy(tiny_config())
    for key, value in changes.items():
        if isinstance(value, dict):
            cfg[key] = {**cfg.get(key, {}), **value}
        else:
            cfg[key] = value
    coerce(cfg, SCHEMA)
    return schema_problem(cfg, SCHEMA, WHERE)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # nested --config values arrive as strings: converted, then the range is what is said
        ({"convert": {"shards": "0"}}, "convert.shards: 0 is less than the minimum of 1."),
        ({"embed": {"epochs": "0"}}, "embed.epochs: 0 is less than the minimum of 1."),
        ({"convert": {"jpeg_quality": "101"}}, "convert.jpeg_quality: 101 is greater than the maximum of 100."),
        (
            {"filter": {"max_images": "0"}},
            "filter.max_images: 0 is less than the minimum of 1. (Cap on the images kept, taken from each "
            "condition in proportion to its size (at least one each).)",
        ),
        ({"embed": {"train_images": "10"}}, "embed.train_images: 10 is less than the minimum of 64."),
        ({"rounds": 2.5}, "rounds: 2.5 is not of type 'integer'."),
        ({"convert": {"shards": "three"}}, "convert.shards: 'three' is not of type 'integer'."),
        ({"annotation": {"categories": ["track"]}}, "annotation.categories: ['track'] is too short."),
        (
            {"annotation": {"categories": ["track"]}, "known_answers": []},
            "annotation.categories: ['track'] is too short.",
        ),
        (
            {"annotation": {"categories": ["track", "track"]}},
            "annotation.categories: ['track', 'track'] has non-unique elements.",
        ),
        (
            {"source": {"kind": "local", "local": {"path": ""}}},
            "source.local.path: '' should be non-empty. (Folder holding meta.csv and the TIFFs it names.)",
        ),
    ],
)
def test_a_value_of_the_right_type_is_checked_for_its_range(changes, message):
    said = problem(**changes)
    assert said is not None and said.startswith(f"{WHERE}: {message}"), said


@pytest.mark.parametrize(
    ("changes", "key", "value"),
    [
        ({"rounds": 2.0}, ("rounds",), 2),
        ({"convert": {"shards": 3.0}}, ("convert", "shards"), 3),
        ({"convert": {"jpeg_quality": 95.0}}, ("convert", "jpeg_quality"), 95),
        ({"embed": {"epochs": "1.0"}}, ("embed", "epochs"), 1),
        ({"convert": {"shards": "3"}}, ("convert", "shards"), 3),
    ],
)
def test_whole_numbers_written_as_floats_or_strings_become_integers(changes, key, value):
    cfg = copy.deepcopy(tiny_config())
    for k, v in changes.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    coerce(cfg, SCHEMA)
    assert schema_problem(cfg, SCHEMA, WHERE) is None
    got = cfg
    for k in key:
        got = got[k]
    assert got == value and type(got) is int  # range(), Lightning and Pillow need an int


def test_a_config_file_that_is_not_yaml_names_its_line(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("rounds: 2\nembed:\n  epochs: [1\n")
    with pytest.raises(InputError) as err:
        check_config_file(path)
    assert str(err.value) == (
        f"{path}, line 4, column 1: not valid YAML (expected ',' or ']', but got '<stream end>', while "
        "parsing a flow sequence). Fix the file; indent with spaces, not tabs, and quote values holding ': ' or '#'."
    )
    path.write_text("rounds: 2\n\tembed: 1\n")
    with pytest.raises(InputError, match=r"config.yaml, line 2, column 1: not valid YAML"):
        check_config_file(path)
    check_config_file(tmp_path / "absent.yaml")  # Snakemake names a missing file itself


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("convert={shards: 0}", "convert.shards: 0 is less than the minimum of 1"),
        (
            "source={kind: local, local: {path: nowhere}}",
            "source.local.path is 'nowhere', but nowhere/meta.csv does not exist",
        ),
        (
            "split={val_size: null, val_fraction: null}",
            "split: val_size and val_fraction are both null; set one: val_size (a number of validation images, "
            "200 by default) or val_fraction (a share of each condition, such as 0.2).",
        ),
        ("rounds=2.0", None),  # works: round 2's model is the default target
    ],
)
def test_config_mistakes_stop_before_any_job(tmp_path, override, message):
    proc = snakemake(make_workdir(tmp_path, tiny_config()), "-n", "--config", override, check=False)
    out = proc.stdout + proc.stderr
    if message is None:
        assert proc.returncode == 0, out[-2000:]
        assert "results/round_2/model.ckpt" in out
    else:
        assert proc.returncode != 0 and message in out
        assert "Traceback" not in out and "Error validating config file" not in out


@pytest.mark.workflow
def test_the_workflows_own_config_with_broken_yaml_names_its_line(tmp_path):
    workdir = make_workdir(tmp_path, tiny_config())
    (workdir / "config" / "config.yaml").write_text("rounds: 2\nembed:\n  epochs: [1\n")
    proc = snakemake(workdir, "-n", check=False)
    assert proc.returncode != 0
    assert "config/config.yaml, line 4, column 1: not valid YAML" in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"train": {"lr": ".nan"}}, "train.lr: nan is not a finite number."),
        ({"filter": {"dose_min": ".inf"}}, "filter.dose_min: inf is not a finite number."),
        ({"annotation": {"oracle": {"noise": float("nan")}}}, "annotation.oracle.noise: nan is not a finite number."),
        ({"seed": -5}, "seed: -5 is less than the minimum of 0."),
        ({"seed": 2**40}, "seed: 1099511627776 is greater than the maximum of 4294967295."),
        ({"annotation": {"oracle": {"truth": ""}}}, "annotation.oracle.truth: '' should be non-empty."),
        (
            {"annotation": {"labelstudio": {"url": "localhost:8080"}}},
            "annotation.labelstudio.url: 'localhost:8080' does not match '^https?://.'.",
        ),
        ({"filter": {"particle_types": []}}, "filter.particle_types: [] should be non-empty."),
        ({"filter": {"hours": []}}, "filter.hours: [] should be non-empty."),
        ({"datasource": {"uri": ""}}, "datasource.uri: '' should be non-empty."),
        (
            {"annotation": {"labelstudio": {"token_env": "my-token"}}},
            "annotation.labelstudio.token_env: 'my-token' does not match '^[A-Za-z_][A-Za-z0-9_]*$'.",
        ),
    ],
)
def test_values_no_job_could_use_are_refused_before_any_job(changes, message):
    """The second sweep: NaN passed every bound and reached the jobs (a NaN loss, noise that never
    flips), seeds numpy refuses crashed inside a job, empty paths named rules, not keys."""
    said = problem(**changes)
    assert said is not None and said.startswith(f"{WHERE}: {message}"), said


@pytest.mark.parametrize(("text", "said"), [("", "empty"), ("- a\n- b\n", "a list, not keys and values")])
def test_a_config_file_without_keys_is_said_so(tmp_path, text, said):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        check_config_file(path)
    assert str(err.value) == (
        f"{path}: {said}; a config holds keys such as rounds: and selection: (copy config/config.yaml of the "
        "repository)."
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"n_samples": 5},
            "invalid selection config: selection: no strategies; give a list of input and strategy pairs, for "
            "example [{input: {type: EMBEDDINGS}, strategy: {type: DIVERSITY}}].",
        ),
        (
            {
                "proportion_samples": float("nan"),
                "strategies": [{"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY"}}],
            },
            "invalid selection config: selection.proportion_samples: nan is not a finite number.",
        ),
    ],
)
def test_a_selection_config_without_strategies_or_with_nan_is_named(config, message):
    """The second sweep: 'is not valid under any of the given schemas', and a NaN traceback in the job."""
    with pytest.raises(InputError) as err:
        validate_selection(config)
    assert str(err.value) == message
