"""A round's model over every filtered image, and the per-condition readout, on the tiny run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflows import REPO, module_folder, snakemake

from bps_labeler.data.meta import jpg_name, read_meta
from bps_labeler.data.split import split_filenames
from bps_labeler.labeling.annotations import read_labels
from bps_labeler.models.network import load_network

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def inferred(tiny_run, tmp_path_factory, request):
    """A copy of the tiny run (modification times kept) with round 2's readout over every image
    of meta.csv (`inference.scope: all`) and its export built."""
    with module_folder(tmp_path_factory, request, "infer") as folder:
        workdir = folder / "wf"
        shutil.copytree(tiny_run, workdir, symlinks=True)
        cfg = yaml.safe_load((workdir / "config/config.yaml").read_text())
        cfg["inference"] = {**cfg.get("inference", {}), "scope": "all"}
        (workdir / "config/config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        snakemake(workdir, "results/readout.json", "results/round_2/export/model.pt2")
        yield workdir


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`bps-labeler ARGS` as a user runs it, in `cwd`."""
    return subprocess.run([sys.executable, "-m", "bps_labeler.cli", *args], cwd=cwd, capture_output=True, text=True)


def test_every_filtered_image_is_answered_once_and_the_rule_answers_its_own(inferred):
    meta = pd.read_csv(inferred / "results/data/filtered_meta.csv")
    answers = pd.read_csv(inferred / "results/round_2/inference/answers.csv")
    answers = answers[answers["filename"].isin(meta["filename"].map(jpg_name))]
    assert sorted(answers["filename"]) == sorted(meta["filename"].map(jpg_name))
    assert sorted(answers["source_file"]) == sorted(meta["filename"])
    categories = ("track", "no track")
    rule = read_labels(inferred / "results/data/known_answers.json", categories)
    by_rule = answers[answers["answered_by"] == "condition"]
    assert set(by_rule["filename"]) == set(rule)
    assert (by_rule["answer"] == by_rule["filename"].map(rule)).all()
    probs = answers[["p_track", "p_no track"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (answers["answer"] == np.where(probs[:, 0] >= probs[:, 1], "track", "no track")).all()


def test_the_models_answers_on_validation_give_back_its_confusion_matrix(inferred):
    """The model inference applies is the one train scored: a wrong checkpoint, class order or
    preprocessing would change at least one answer."""
    answers = pd.read_csv(inferred / "results/round_2/inference/answers.csv").set_index("filename")
    categories = ["track", "no track"]
    truth = read_labels(inferred / "results/validation/annotations.json", tuple(categories))
    val = [
        n
        for n in split_filenames(inferred / "results/data/split.csv", "val")
        if answers.loc[n, "answered_by"] == "model"
    ]
    cm = np.zeros((2, 2), dtype=int)
    for n in val:
        cm[categories.index(truth[n]), categories.index(answers.loc[n, "answer"])] += 1
    metrics = json.loads((inferred / "results/round_2/metrics.json").read_text())
    assert cm.tolist() == metrics["baselines"]["undecided"]["model"]["confusion_matrix"]


def test_the_readout_has_a_row_per_condition_with_its_interval(inferred):
    table = pd.read_csv(inferred / "results/round_2/inference/readout.csv")
    answers = pd.read_csv(inferred / "results/round_2/inference/answers.csv")
    assert table["n_images"].sum() == len(answers)
    assert len(table) == answers.groupby(["particle_type", "dose_Gy", "hr_post_exposure"]).ngroups
    xray = table[table["particle_type"] == "X-ray"]
    assert len(xray) and (xray["answered_by"] == "condition").all() and xray["ci_low"].isna().all()
    fe = table[table["answered_by"] == "model"]
    assert len(fe) and (fe["ci_low"] <= fe["share_corrected"]).all() and (fe["share_corrected"] <= fe["ci_high"]).all()
    assert (inferred / "results/round_2/inference/readout.png").stat().st_size > 10_000


def test_dvc_reads_the_readout_as_a_metric(inferred, tmp_path):
    """`dvc metrics show` with the project's dvc.yaml finds the corrected shares of readout.csv."""
    project = tmp_path / "p"
    shutil.copytree(inferred / "results", project / "results", symlinks=True)
    shutil.copy(REPO / "dvc.yaml", project)
    dvc = str(Path(sys.executable).with_name("dvc"))
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=project, check=True)
    shown = subprocess.run([dvc, "metrics", "show", "--json"], cwd=project, capture_output=True, text=True, check=True)
    metrics = next(iter(json.loads(shown.stdout).values()))["data"]["results/readout.json"]["data"]
    table = pd.read_csv(inferred / "results/round_2/inference/readout.csv")
    fe = table[table["answered_by"] == "model"].iloc[0]
    name = f"Fe {fe['dose_Gy']:g} Gy {fe['hr_post_exposure']} h"
    assert metrics["round"] == 2 and metrics["conditions"][name]["share_corrected"] == fe["share_corrected"]
    assert metrics["conditions"][name]["ci_low"] == fe["ci_low"]


def test_the_exported_model_gives_the_pipelines_probabilities_from_the_raw_tiffs(inferred, tmp_path):
    """`bps-labeler predict` on the validation TIFFs, converted as the pipeline converts them,
    against the probabilities train computed on the pipeline's JPGs: a different stretch, JPEG
    quality, resize, channel or feature would move them by far more than 1e-5."""
    validation = pd.read_csv(inferred / "results/round_2/validation.csv").set_index("filename")
    tiffs = {jpg_name(p.name): p for p in (inferred / "resources").rglob("*.tif")}
    folder = tmp_path / "tiffs"
    folder.mkdir()
    for name in validation.index:
        shutil.copy(tiffs[name], folder / tiffs[name].name)
    out = tmp_path / "answers.csv"
    # the tiny run's labels span several conditions: its model reads the hours and dose too
    meta = inferred / "results/data/filtered_meta.csv"
    export = str(inferred / "results/round_2/export")
    done = run_cli(["predict", export, str(folder), "-o", str(out), "--meta", str(meta)], cwd=inferred)
    assert done.returncode == 0, done.stderr
    answers = pd.read_csv(out).set_index("filename").loc[validation.index]
    columns = ["p_track", "p_no track"]
    difference = np.abs(answers[columns].to_numpy() - validation[columns].to_numpy())
    assert difference.max() < 1e-5
    assert (answers["answer"] == validation["answer"]).all()
    card = (inferred / "results/round_2/export/MODEL_CARD.md").read_text()
    metrics = json.loads((inferred / "results/round_2/metrics.json").read_text())
    assert f"| model | {metrics['baselines']['undecided']['model']['balanced_accuracy']} |" in card
    assert "metadata_rule" in card
    levels = load_network(inferred / "results/round_2/model.ckpt").condition_levels
    assert levels  # labels of several conditions: the head reads them, and the card says which
    assert f"- condition (give meta.csv: --meta): {'; '.join(f'{c} {v}' for c, v in levels)}" in card
    # where its backbone came from: the tiny run's own SimCLR from random weights
    assert "- resnet18 (torchvision), started from random weights (nothing downloaded)" in card
    assert "- then SimCLR on the pool, 1 epoch (embed.ssl: scratch)" in card


def test_an_exported_model_of_another_version_categories_or_bytes_is_refused(inferred, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(inferred / "results/round_2/export", export)
    image = sorted((inferred / "results/data/images").glob("*.jpg"))[0]
    out = tmp_path / "a.csv"

    def predict(*extra: str) -> str:
        done = run_cli(["predict", str(export), str(image), "-o", str(out), *extra], cwd=tmp_path)
        assert done.returncode == 1 and not out.exists()
        return done.stderr

    assert "not ['track', 'other']" in predict("--categories", "track,other")
    recipe = json.loads((export / "model.json").read_text())
    (export / "model.json").write_text(json.dumps({**recipe, "package_version": "0.0.1"}))
    assert "exported by bps-labeler 0.0.1" in predict()
    (export / "model.json").write_text(json.dumps(recipe))
    with open(export / "model.pt2", "ab") as f:
        f.write(b"\0")
    assert "changed since it was exported" in predict()


def test_scope_all_answers_every_image_of_meta_csv(inferred):
    """The images the filter left out are converted for inference alone and answered like the
    rest: the readout then has a row for every condition of meta.csv."""
    meta = read_meta(inferred / "resources/raw/meta.csv")
    answers = pd.read_csv(inferred / "results/round_2/inference/answers.csv")
    assert sorted(answers["filename"]) == sorted(meta["filename"].map(jpg_name))
    filtered = set(pd.read_csv(inferred / "results/data/filtered_meta.csv")["filename"].map(jpg_name))
    rest = answers[~answers["filename"].isin(filtered)]
    assert len(rest) and (rest["dose_Gy"] < 0.8).all()  # the filter kept 0.8 Gy and up
    fe = rest[(rest["particle_type"] == "Fe") & (rest["dose_Gy"] > 0)]
    assert len(fe) and (fe["answered_by"] == "model").all()
    sham = rest[rest["dose_Gy"] == 0]  # the rule answers the left-out sham images too
    assert len(sham) and (sham["answered_by"] == "condition").all() and (sham["answer"] == "no track").all()
    table = pd.read_csv(inferred / "results/round_2/inference/readout.csv")
    assert len(table) == meta.groupby(["particle_type", "dose_Gy", "hr_post_exposure"]).ngroups
    left_out = table[(table["dose_Gy"] < 0.8) & (table["answered_by"] == "model")]
    assert len(left_out) and (left_out["n_validation"] == 0).all()  # no validation image there
    assert not (inferred / "results/data/images").joinpath(rest["filename"].iloc[0]).exists()  # not in the pool
