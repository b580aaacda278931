"""Experiment tracking: W&B offline, a local MLflow store and DVCLive, with the real packages and no
network; a tracked run computes what an untracked one does, and changing the logger reruns nothing."""

from __future__ import annotations

import json
import logging
import math
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bps_labeler.workflow.tracking import TrackingSpec, numbers, open_run

ALL = ["csv", "wandb", "mlflow", "dvclive"]
#: Stand-ins for the secrets people keep in the environment: no file may hold them.
SECRETS = {"WANDB_API_KEY": "wandb-key-must-not-leak-1234", "MLFLOW_TRACKING_PASSWORD": "mlflow-pass-must-not-leak"}
DVC = str(Path(sys.executable).with_name("dvc"))


def wandb_records(run_dir: Path) -> list:
    """The records of an offline W&B run (its `run-<id>.wandb` file), parsed with W&B's own
    protobuf classes. The file is a LevelDB-style log: a 7-byte header, then in 32 KiB blocks
    records of 4 bytes checksum, 2 bytes length, 1 byte kind (full, first, middle, last)."""
    from wandb.proto import wandb_internal_pb2

    data = next(run_dir.glob("run-*.wandb")).read_bytes()
    assert data[:4] == b":W&B", run_dir
    pos, chunk, records, block = 7, b"", [], 32768
    while pos + 7 <= len(data):
        left = block - pos % block
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        if left < 7 or (length == 0 and kind == 0):  # the rest of a block is padding
            pos += left
            continue
        chunk += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunk)
            records.append(record)
            chunk = b""
    return records


def wandb_run(records: list) -> tuple[dict, list[dict]]:
    """The run's identity (project, group, job type, name) and its history rows."""
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    history = [
        {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item}
        for r in records
        if r.WhichOneof("record_type") == "history"
    ]
    ident = {"project": run.project, "group": run.run_group, "job": run.job_type, "name": run.display_name}
    return ident, history


def wandb_runs(where: Path) -> dict[str, tuple[dict, list[dict]]]:
    """Every offline run under `where`, by its name (round_2/train, ...)."""
    runs = [wandb_run(wandb_records(d)) for d in sorted((where / "wandb").glob("offline-run-*"))]
    return {ident["name"]: (ident, history) for ident, history in runs}


def mlflow_runs(where: Path) -> dict:
    """Every run of the local MLflow store, by name, read with MLflow's client."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{where / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("bps-tracks")
    return client, {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}


def test_numbers_are_the_numeric_leaves_keyed_by_path():
    values = {"a": 1, "b": {"c": 0.5, "d": "text", "e": [1, 2], "f": {"g": True}}, "h": math.nan, "i": None}
    assert numbers(values) == {"a": 1.0, "b/c": 0.5, "b/f/g": 1.0}


def test_the_config_names_only_known_tools_and_the_folder_names_the_group(tmp_path):
    assert TrackingSpec.from_config({}).trackers == ()
    spec = TrackingSpec.from_config({"tracking": {"loggers": ["dvclive", "csv", "wandb"]}})
    assert spec.trackers == ("wandb", "dvclive")
    assert spec.group_name(tmp_path) == tmp_path.name
    with pytest.raises(ValueError, match=r"tracking.loggers: \['neptune'\] unknown"):
        TrackingSpec.from_config({"tracking": {"loggers": ["neptune"]}})
    # without a tracker nothing is opened and nothing is written
    run = open_run(TrackingSpec(), "train", 1, {"seed": 0}, tmp_path)
    assert run.trackers == [] and not (tmp_path / "tracking").exists()


def test_a_tracker_that_fails_is_warned_about_and_the_job_goes_on(tmp_path, caplog):
    """A tracking server down or misnamed must not fail a job whose results are written."""
    spec = TrackingSpec(loggers=("csv", "mlflow", "dvclive"), mlflow_uri="nosuchscheme://tracking.example")
    with caplog.at_level("WARNING"):
        run = open_run(spec, "select", 1, {"seed": 0}, tmp_path)
    assert "tracking: mlflow could not start this job's run" in caplog.text
    assert list(run.runs) == ["dvclive"]
    run.runs["dvclive"] = object()  # a tool whose calls fail from here on
    with caplog.at_level("WARNING"):
        run.log_figures({"n_selected": 20})
        run.close()
    assert "tracking: dvclive could not log figures (AttributeError" in caplog.text
    assert run.runs == {}


def test_a_fit_and_its_figures_reach_each_tool(tmp_path, monkeypatch):
    """One job through all three: the Lightning fit's curve, the figures after it, a picture."""
    import lightning as L
    import torch

    from bps_labeler.utils.epoch_progress import quiet_trainer

    monkeypatch.delenv("WANDB_API_KEY", raising=False)  # auto = offline without a key
    for k in ("WANDB_MODE", "WANDB_DIR", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(k, raising=False)

    class Toy(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(3, 1)

        def training_step(self, batch, _):
            loss = self.layer(batch[0]).pow(2).mean()
            self.log("train_loss", loss, on_epoch=True, on_step=False)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    spec = TrackingSpec(loggers=tuple(ALL), group="lab-run")
    run = open_run(spec, "train", 2, {"seed": 7, "train": {"epochs": 2}}, tmp_path)
    torch.manual_seed(0)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(32, 3)), batch_size=8)
    trainer = quiet_trainer(2, "cpu", tmp_path / "csv", "toy", logging.getLogger("toy"), run.trackers)
    trainer.fit(Toy(), data)
    picture = tmp_path / "picks.png"
    shutil.copy(Path(__file__).parents[1] / "docs" / "report-picks.png", picture)
    run.log_figures({"undecided_model_balanced_accuracy": 0.875, "labels_per_class": {"track": 12}})
    run.log_pictures([picture])
    run.close()

    where = tmp_path / "tracking"
    assert (tmp_path / "csv" / "metrics.csv").exists()  # the job's own CSV, as always
    ident, history = wandb_runs(where)["round_2/train"]
    assert ident == {"project": "bps-tracks", "group": "lab-run", "job": "train", "name": "round_2/train"}
    assert len([h for h in history if "train_loss" in h]) == 2  # one point per epoch
    assert any(h.get("undecided_model_balanced_accuracy") == 0.875 for h in history)
    assert any(h.get("labels_per_class/track") == 12 for h in history)
    assert any(h.get("picks/format") == "png" for h in history), history  # the picture

    client, runs = mlflow_runs(where)
    found = runs["round_2/train"]
    assert found.data.tags["pipeline_run"] == "lab-run" and found.data.tags["round"] == "2"
    assert found.data.metrics["undecided_model_balanced_accuracy"] == 0.875
    assert len(client.get_metric_history(found.info.run_id, "train_loss")) == 2
    assert found.data.params["config/seed"] == "7"
    assert [a.path for a in client.list_artifacts(found.info.run_id, "pictures")] == ["pictures/picks.png"]

    live = where / "dvclive" / "lab-run" / "round_2" / "train" / "dvclive"
    dvcyaml = yaml.safe_load((live.parent / "dvc.yaml").read_text())
    assert dvcyaml["metrics"] == ["dvclive/metrics.json"], dvcyaml  # once, however often it was written
    assert json.loads((live / "metrics.json").read_text())["undecided_model_balanced_accuracy"] == 0.875
    assert yaml.safe_load((live / "params.yaml").read_text())["config"]["seed"] == 7
    assert (live / "plots" / "images" / "picks.png").exists()


@pytest.fixture(scope="module")
def tracked(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory, request) -> Iterator[Path]:
    """The tiny run, copied, with every tracker on: first looked at, then retrained from round 1."""
    import os

    from workflows import module_folder, snakemake

    with module_folder(tmp_path_factory, request, "tracked") as folder:
        workdir = folder / "lab-run"
        shutil.copytree(tiny_run, workdir, symlinks=True)
        config = workdir / "config" / "config.yaml"
        cfg = yaml.safe_load(config.read_text())
        cfg["tracking"] = {"loggers": ALL, "wandb_mode": "offline"}  # offline even with a key set
        config.write_text(yaml.safe_dump(cfg, sort_keys=False))
        # changing the loggers reruns nothing
        dry = snakemake(workdir, "-n", "results/round_2/model.ckpt")
        assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]

        env = {**os.environ, **SECRETS}
        for k in ("WANDB_MODE", "WANDB_DIR", "MLFLOW_TRACKING_URI"):
            env.pop(k, None)
        reports = [f"results/round_{r}/report/picks.png" for r in (1, 2)] + ["results/report/learning_curve.png"]
        snakemake(workdir, "results/round_2/model.ckpt", *reports, "--forcerun", "train", env=env)
        yield workdir


def test_a_tracked_run_computes_what_an_untracked_one_does(tracked, tiny_run):
    for f in (
        "results/round_1/metrics.json",
        "results/round_2/metrics.json",
        "results/round_2/selection.json",
        "results/round_2/validation.csv",
    ):
        assert (tracked / f).read_bytes() == (tiny_run / f).read_bytes(), f


def test_each_job_is_a_run_grouped_by_the_pipeline_run_with_its_round(tracked):
    metrics = json.loads((tracked / "results" / "round_2" / "metrics.json").read_text())
    undecided = metrics["baselines"]["undecided"]
    runs = wandb_runs(tracked / "tracking")
    expected = {"round_1/train", "round_2/train", "round_2/select", "round_1/report_round", "round_2/report_round"}
    assert expected | {"report_learning_curve"} <= set(runs), sorted(runs)
    assert {ident["group"] for ident, _ in runs.values()} == {"lab-run"}
    _, history = runs["round_2/train"]
    logged = {k: v for h in history for k, v in h.items()}
    assert logged["undecided_model_balanced_accuracy"] == pytest.approx(undecided["model"]["balanced_accuracy"])
    assert logged["undecided_metadata_rule_balanced_accuracy"] == undecided["metadata_rule"]["balanced_accuracy"]
    assert logged["n_labels"] == metrics["n_labels"]
    # the learning curve over rounds: one run, a point per round
    _, curve = runs["report_learning_curve"]
    points = [(h["round"], h["undecided_model_auroc"]) for h in curve if "undecided_model_auroc" in h]
    assert [p[0] for p in points] == [1, 2]

    client, found = mlflow_runs(tracked / "tracking")
    train = found["round_2/train"]
    assert train.data.metrics["undecided_model_auroc"] == pytest.approx(undecided["model"]["auroc"])
    assert train.data.tags["job"] == "train" and train.data.tags["round"] == "2"
    history = client.get_metric_history(found["report_learning_curve"].info.run_id, "undecided_model_auroc")
    assert sorted(m.step for m in history) == [1, 2]
    pictures = {a.path for a in client.list_artifacts(found["round_2/report_round"].info.run_id, "pictures")}
    assert "pictures/picks.png" in pictures


def test_dvc_reads_the_dvclive_runs(tracked):
    subprocess.run([DVC, "init", "--no-scm", "-q"], cwd=tracked, check=True)
    shown = subprocess.run([DVC, "metrics", "show", "--json"], cwd=tracked, capture_output=True, text=True, check=True)
    metrics = json.loads((tracked / "results" / "round_2" / "metrics.json").read_text())
    entry = "tracking/dvclive/lab-run/round_2/train/dvclive/metrics.json"
    data = json.loads(shown.stdout)
    files = {k: v for workspace in data.values() for k, v in workspace["data"].items()}
    assert entry in files, sorted(files)
    assert files[entry]["data"]["undecided_model_balanced_accuracy"] == pytest.approx(
        metrics["baselines"]["undecided"]["model"]["balanced_accuracy"]
    )


def test_no_secret_reaches_a_file(tracked):
    for path in tracked.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            for name, secret in SECRETS.items():
                assert secret.encode() not in data, f"{name} written to {path}"
