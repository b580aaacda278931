"""The real `snakemake` on a tiny config, end to end to round 2, checking every file contract."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO
from workflows import SNAKEMAKE, make_workdir, only_look, snakemake, tiny_config

from bps_labeler.workflow.status import format_status, set_status

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def run(tiny_run) -> Path:
    return tiny_run


def test_data_contracts(run):
    meta = pd.read_csv(run / "results/data/filtered_meta.csv")
    assert list(meta.columns) == ["filename", "dose_Gy", "particle_type", "hr_post_exposure"]
    assert len(meta) == 240 and set(meta["dose_Gy"]) == {0.82, 1.0}
    stems = {f[: -len(".tif")] for f in meta["filename"]}
    assert {p.stem for p in (run / "results/data/images").glob("*.jpg")} == stems
    md = run / "results/data/metadata"
    assert {p.stem for p in md.glob("*.json")} == stems | {"schema"}
    split = pd.read_csv(run / "results/data/split.csv")
    assert list(split.columns) == ["filename", "split"] and set(split["split"]) == {"train", "val"}
    assert (split["split"] == "val").sum() == 48  # 20 % of each of 6 conditions of 40
    emb = pd.read_csv(run / "results/embeddings/embeddings.csv")
    assert list(emb.columns) == ["filenames"] + [f"embedding_{i}" for i in range(16)] + ["labels"]
    assert sorted(emb["filenames"]) == sorted(split.loc[split["split"] == "train", "filename"])


def test_round_contracts(run):
    split = pd.read_csv(run / "results/data/split.csv")
    train_pool = set(split.loc[split["split"] == "train", "filename"])
    picked: list[str] = []
    for r in (1, 2):
        sel = json.loads((run / f"results/round_{r}/selection.json").read_text())
        names = [s["filename"] for s in sel["selected"]]
        assert sel["round"] == r and len(names) == 20 and set(names) <= train_pool
        assert not set(names) & set(picked)  # never picked twice
        picked += names
        ann = json.loads((run / f"results/round_{r}/annotations.json").read_text())
        assert sorted(Path(a["image"]).name for a in ann) == sorted(names)
        assert {a["choice"] for a in ann} <= {"track", "no track"}
        m = json.loads((run / f"results/round_{r}/metrics.json").read_text())
        assert m["n_labels"] == 20 * r and m["n_val"] == 48
        for key in ("accuracy", "balanced_accuracy", "auroc"):
            assert 0 <= m[key] <= 1
        # beside its baselines, on the same images; the undecided subset is the irradiated Fe
        b = m["baselines"]
        assert b["overall"]["model"]["balanced_accuracy"] == m["balanced_accuracy"]
        assert b["undecided"]["n_val"] == 24 and b["n_known"] == 24  # the Fe and X-ray halves
        truth = pd.read_csv(run / "resources/synthetic/truth.csv").set_index("filename")["label"]
        val = json.loads((run / "results/validation/annotations.json").read_text())
        meta = pd.read_csv(run / "results/data/filtered_meta.csv").set_index("filename")
        names = [Path(a["image"]).stem + ".tif" for a in val]
        und = [n for n in names if meta.loc[n, "particle_type"] == "Fe"]
        # the rule says "track" to every undecided image: right exactly for those that hold one
        share = sum(truth[n] == "track" for n in und) / len(und)
        assert b["undecided"]["metadata_rule"]["accuracy"] == pytest.approx(share, abs=1e-6)
        # and "no track" to the X-ray images, which hold none: right on all of them
        rule_cm = b["overall"]["metadata_rule"]["confusion_matrix"]
        assert rule_cm[1][1] == sum(truth[n] == "no track" for n in names) - sum(truth[n] == "no track" for n in und)
        assert (run / f"results/round_{r}/model.ckpt").stat().st_size > 1_000_000
    r1 = json.loads((run / "results/round_1/selection.json").read_text())
    assert r1["config"] == tiny_config()["selection"][0]  # the config used travels with the picks
    assert {"sharpness", "snr", "particle_type"} <= set(r1["selected"][0]["metadata"])
    # no label is spent on what the condition answers: every pick is irradiated Fe
    assert r1["n_known_left_out"] == 96
    assert all(
        s["metadata"]["particle_type"] == "Fe"
        for r in (1, 2)
        for s in json.loads((run / f"results/round_{r}/selection.json").read_text())["selected"]
    )
    r2 = json.loads((run / "results/round_2/selection.json").read_text())
    assert r2["n_preselected"] == 20
    assert not (run / "annotations").exists()  # the oracle's answers never enter the label store
    assert all(0 <= s["scores"]["uncertainty_entropy"] <= 1 for s in r2["selected"])


def test_predictions_contract(run):
    pred = run / "results/round_1/predictions"
    assert json.loads((pred / "tasks.json").read_text()) == ["bps-classification"]
    schema = json.loads((pred / "bps-classification/schema.json").read_text())
    assert [c["name"] for c in schema["categories"]] == ["track", "no track"]
    files = sorted((pred / "bps-classification").glob("*_proj.json"))
    assert len(files) == 192
    rec = json.loads(files[0].read_text())
    assert rec["file_name"] == files[0].stem + ".jpg"
    assert sum(rec["predictions"][0]["probabilities"]) == pytest.approx(1, abs=1e-5)
    # images the condition decides are answered by the rule, with full confidence; the others by the model
    rule = {Path(r["image"]).name: r for r in json.loads((run / "results/data/known_answers.json").read_text())}
    assert rule and {r["annotator"] for r in rule.values()} == {"rule"}
    answered = {f.stem + ".jpg": json.loads(f.read_text())["predictions"][0]["probabilities"] for f in files}
    assert all(answered[n] == [0.0, 1.0] for n in rule if n in answered)
    assert any(max(p) < 1 for n, p in answered.items() if n not in rule)


def test_every_rule_logs(run):
    logs = {p.relative_to(run / "logs").as_posix() for p in (run / "logs").rglob("*.log")}
    for expected in (
        "synthesize.log",
        "filter_meta.log",
        "convert/0.log",
        "embed.log",
        "split.log",
        "round_1/select.log",
        "round_1/train.log",
        "round_1/predict.log",
        "round_2/train.log",
    ):
        assert expected in logs


def test_rerun_has_nothing_to_do_and_round_3_plans(run):
    assert "Nothing to be done" in snakemake(run, "-n", "results/round_2/model.ckpt").stdout
    # embed.train_images at its default changes no finished run; set otherwise, it retrains SimCLR
    same = snakemake(run, "-n", "results/round_2/model.ckpt", "--config", "embed={train_images: 1200}")
    assert "Nothing to be done" in same.stdout
    other = snakemake(run, "-n", "results/round_2/model.ckpt", "--config", "embed={train_images: 64}")
    assert "'train_images': 64" in other.stdout and "rule embed:" in other.stdout
    plan = snakemake(run, "-n", "results/round_3/model.ckpt").stdout
    assert "results/round_3/selection.json" in plan and "results/round_2/predictions" in plan


def test_the_embedding_asks_for_the_time_of_simclrs_sample_not_of_the_pool(run):
    """A cluster job asks for SimCLR's epochs over its capped sample, not over the whole pool: a
    model that scaled with the pool would ask a 77,000-image run for a day."""

    def embed_minutes(settings: str) -> int:
        out = snakemake(run, "-n", "--forcerun", "embed", "--config", settings).stdout
        return int(re.search(r"runtime=(\d+)", out[out.index("rule embed:") :]).group(1))

    pool = int((pd.read_csv(run / "results" / "data" / "split.csv")["split"] == "train").sum())
    assert pool >= 150
    whole, sample = embed_minutes("embed={epochs: 100}"), embed_minutes("embed={epochs: 100, train_images: 64}")
    # 10 minutes of margin on top of each; the epochs dominate, so the rest scales by the sample
    assert (whole - 10) / (sample - 10) > 0.8 * pool / 64


def test_two_runs_give_byte_identical_selections(run, tmp_path):
    other = make_workdir(tmp_path / "again", tiny_config())
    snakemake(other, "results/round_2/selection.json")
    for r in (1, 2):
        a = (run / f"results/round_{r}/selection.json").read_bytes()
        assert a == (other / f"results/round_{r}/selection.json").read_bytes(), f"round {r} differs"


def test_lint_is_clean(tmp_path):
    workdir = make_workdir(tmp_path, tiny_config())
    proc = snakemake(workdir, "--lint", check=False)
    assert proc.returncode == 0 and "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_bad_selection_config_stops_before_any_job(tmp_path):
    cfg = tiny_config()
    cfg["selection"][0]["strategies"][0]["strategy"]["strenght"] = 2
    workdir = make_workdir(tmp_path, cfg)
    proc = snakemake(workdir, "-n", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "round 1" in out and "'strenght' was unexpected" in out


def test_a_shard_count_beyond_reason_stops_before_any_job(tmp_path):
    cfg = tiny_config()
    cfg["convert"]["shards"] = 20_000  # 20,000 jobs for 240 images
    proc = snakemake(make_workdir(tmp_path, cfg), "-n", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "convert.shards: 20000 is greater than the maximum of 1024" in out
    assert "Error validating config file" not in out  # one line naming the key, not a schema dump


def test_unquoted_yes_no_categories_are_explained(tmp_path):
    workdir = make_workdir(tmp_path, tiny_config())
    config = workdir / "config" / "config.yaml"
    text = config.read_text()
    assert "- track\n  - no track\n" in text
    config.write_text(text.replace("- track\n  - no track\n", "- yes\n  - no\n"))
    proc = snakemake(workdir, "-n", check=False)
    assert proc.returncode != 0
    assert "YAML read unquoted words such as yes/no as true/false" in proc.stdout + proc.stderr


def test_started_outside_the_repository_it_says_the_profile_was_not_loaded(tmp_path):
    workdir = make_workdir(tmp_path / "wf", tiny_config())
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(workdir), "-n"]
    outside = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert "the workflow's profile (rerun-incomplete, one labeling job at a time) was not loaded" in outside.stderr
    assert f"--workflow-profile {REPO / 'profiles' / 'default'}" in outside.stderr
    inside = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    assert "was not loaded" not in inside.stderr


def test_too_many_samples_is_explained(tmp_path):
    cfg = tiny_config()
    cfg["selection"][0]["n_samples"] = 500
    workdir = make_workdir(tmp_path, cfg)
    shutil.copytree(REPO / "config", workdir / "unused_config_copy")  # unrelated files do no harm
    proc = snakemake(workdir, "results/round_1/selection.json", check=False)
    assert proc.returncode != 0
    # the default's quality thresholds leave out a few of the 192 pool images; the log says how many
    # nor those whose condition decides the label (the 96 X-ray images)
    assert re.search(
        r"asks for 500 samples but only [89]\d remain in the pool of 192 after removing 0 "
        r"picked in earlier rounds, 96 whose condition decides the label and applying thresholds",
        proc.stdout + proc.stderr,
    )


def test_local_source_with_a_corrupt_tiff_names_the_file(tmp_path, tiny_dataset):
    raw, truth, meta = tiny_dataset
    local = tmp_path / "bps"
    shutil.copytree(raw, local)
    victim = meta["filename"].iloc[5]
    data = (local / victim).read_bytes()
    (local / victim).write_bytes(data[: len(data) // 2])  # a download cut off halfway
    cfg = tiny_config()
    cfg["source"] = {"kind": "local", "local": {"path": str(local)}}
    cfg["filter"] = {}
    cfg["annotation"]["oracle"]["truth"] = str(truth)
    workdir = make_workdir(tmp_path / "work", cfg)
    proc = snakemake(workdir, "results/data/images", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"ERROR: {local / victim}: not a readable TIFF" in out
    assert "truncated: download it again or drop its row from meta.csv" in out


def test_oracle_noise_never_touches_the_validation_labels(tmp_path):
    cfg = tiny_config()
    cfg["annotation"]["oracle"]["noise"] = 0.5  # half of every round's answers flipped ...
    workdir = make_workdir(tmp_path, cfg)
    snakemake(workdir, "results/validation/annotations.json")
    truth = pd.read_csv(workdir / "resources/synthetic/truth.csv")
    truth = dict(zip(truth["filename"].str.replace(".tif", ".jpg"), truth["label"]))
    val = json.loads((workdir / "results/validation/annotations.json").read_text())
    assert len(val) == 48 and all(a["choice"] == truth[Path(a["image"]).name] for a in val)  # ... none of these


def test_categories_of_the_users_own_naming_run_to_round_2(tmp_path, tiny_dataset):
    """The first category is the positive class, whatever it is called (here: line / none)."""
    raw, truth, meta = tiny_dataset
    renamed = pd.read_csv(truth)
    renamed["label"] = renamed["label"].map({"track": "line", "no track": "none"})
    renamed.to_csv(tmp_path / "truth.csv", index=False)
    cfg = tiny_config()
    cfg["source"] = {"kind": "local", "local": {"path": str(raw)}}
    cfg["filter"] = {}
    cfg["annotation"]["categories"] = ["line", "none"]
    cfg["annotation"]["oracle"]["truth"] = str(tmp_path / "truth.csv")
    for known in cfg["known_answers"]:
        known["label"] = "none"
    for sel in cfg["selection"]:
        sel["n_samples"] = 5  # 68 images, half of them X-ray
    workdir = make_workdir(tmp_path / "wf", cfg)
    snakemake(workdir, "results/round_2/metrics.json", "results/round_2/report/embedding_map.png")
    metrics = json.loads((workdir / "results/round_2/metrics.json").read_text())
    assert metrics["categories"] == ["line", "none"] and set(metrics["labels_per_class"]) == {"line", "none"}
    assert metrics["baselines"]["undecided"]["model"]["auroc"] is not None
    schema = json.loads((workdir / "results/round_2/predictions/bps-classification/schema.json").read_text())
    assert [c["name"] for c in schema["categories"]] == ["line", "none"]

    # an oracle whose truth does not use the config's names is blamed on the config key
    cfg["annotation"]["categories"] = ["Line", "None"]
    for known in cfg["known_answers"]:
        known["label"] = "None"
    other = make_workdir(tmp_path / "wf2", cfg)
    proc = snakemake(other, "results/validation/annotations.json", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "annotation.categories in the config is ['Line', 'None'], but the oracle's truth" in out


def _reversed(value):
    """Every mapping with its keys in reverse order, as another tool might save a config."""
    if isinstance(value, dict):
        return {k: _reversed(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed(v) for v in value]
    return value


def test_the_same_config_in_another_key_order_reruns_nothing(run):
    """The second sweep: params compared as written, so a re-saved config reran every job."""
    config = run / "config" / "config.yaml"
    text = config.read_text()
    try:
        config.write_text(yaml.safe_dump(_reversed(yaml.safe_load(text)), sort_keys=False))
        assert config.read_text() != text
        assert "Nothing to be done" in snakemake(run, "-n", "results/round_2/model.ckpt").stdout
    finally:
        config.write_text(text)


def test_looking_at_a_finished_run_writes_nothing(run):
    """Issue 25: parsing the workflow wrote the label store, the lock's host record and more."""
    only_look(run, "results/round_2/model.ckpt")


def test_status_of_a_finished_run(run):
    rows = {r["set"]: r for r in set_status(run)}
    assert list(rows) == ["validation", "round_1", "round_2"]
    for name in ("round_1", "round_2"):
        assert rows[name]["selected"] == 20 and rows[name]["labeled"] == 20 and rows[name]["model"]
        assert rows[name]["given"] is None  # the oracle: nothing given to people
        metrics = json.loads((run / "results" / name / "metrics.json").read_text())
        assert (
            rows[name]["undecided_balanced_accuracy"] == metrics["baselines"]["undecided"]["model"]["balanced_accuracy"]
        )
    assert "round 2" in format_status(list(rows.values()))
