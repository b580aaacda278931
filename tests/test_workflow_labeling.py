"""The workflow with human-label backends: Label Studio (real server) and dropped-in files."""

from __future__ import annotations

import json
import time

import pytest

from bps_labeler.labelstudio import connect, ensure_project, simulate_oracle
from bps_labeler.annotations import filename_of, read_truth
from bps_labeler.selection import read_selected

from test_workflow import make_workdir, snakemake, tiny_config

pytestmark = pytest.mark.workflow


def ls_config(labelstudio, project: str, **overrides) -> dict:
    cfg = tiny_config()
    cfg["annotation"]["backend"] = "labelstudio"
    settings = {"url": labelstudio["url"], "document_root": labelstudio["document_root"], "poll_s": 0.5,
                "project": project, "validation_project": f"{project}-val", "simulate": "oracle"}
    cfg["annotation"]["labelstudio"].update({**settings, **overrides})
    return cfg


def test_whole_loop_through_label_studio(labelstudio, tmp_path):
    workdir = make_workdir(tmp_path, ls_config(labelstudio, "wf-loop"))
    t = time.perf_counter()
    snakemake(workdir, "results/round_2/model.ckpt")
    print(f"workflow to round 2 through Label Studio: {time.perf_counter() - t:.1f} s")
    for r in (1, 2):
        ann = json.loads((workdir / f"results/round_{r}/annotations.json").read_text())
        selected = read_selected(workdir / f"results/round_{r}/selection.json")
        assert sorted(a["filename"] for a in ann) == sorted(selected)
        truth = read_truth(workdir / "resources/synthetic/truth.csv")
        assert all(a["choice"] == truth[a["filename"]] for a in ann)
        assert (workdir / f"annotations/round_{r}.json").exists()  # the raw export, for git/DVC
        report = json.loads((workdir / f"results/round_{r}/annotation_report.json").read_text())
        assert report["n_labeled"] == 20 and report["project_url"].startswith(labelstudio["url"])
    m = json.loads((workdir / "results/round_2/metrics.json").read_text())
    assert m["n_labels"] == 40 and m["n_val"] == 48
    # labels are protected: nothing can overwrite them by accident
    assert not (workdir / "results/round_1/annotations.json").stat().st_mode & 0o222
    # the token is in no log, result or export
    for path in [*workdir.glob("logs/**/*"), *workdir.glob("results/**/*.json"), *workdir.glob("annotations/*")]:
        if path.is_file():
            assert labelstudio["token"] not in path.read_text(errors="ignore"), path
    # a second run changes nothing: no duplicate tasks
    snakemake(workdir, "results/round_2/model.ckpt")
    server = connect(labelstudio["url"], labelstudio["token_env"])
    project = ensure_project(server, "wf-loop", ("track", "no track"))
    assert len(list(server.client.tasks.list(project=project))) == 40


def test_half_labeled_round_times_out_then_resumes(labelstudio, tmp_path):
    cfg = ls_config(labelstudio, "wf-resume", simulate="none", timeout_s=2)
    workdir = make_workdir(tmp_path, cfg)
    target = "results/round_1/annotations.json"
    snakemake(workdir, "results/round_1/selection.json", "resources/synthetic/truth.csv")
    selected = read_selected(workdir / "results/round_1/selection.json")
    truth = read_truth(workdir / "resources/synthetic/truth.csv")
    proc = snakemake(workdir, target, check=False)
    assert proc.returncode != 0  # nobody labeled anything yet
    server = connect(labelstudio["url"], labelstudio["token_env"])
    project = ensure_project(server, "wf-resume", ("track", "no track"))
    simulate_oracle(server, project, truth, selected[:10])  # a person labels half of the round
    proc = snakemake(workdir, target, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"10 of 20 task(s) still unlabeled in {labelstudio['url']}/projects/{project}/data" in out
    assert f"resume with: snakemake --cores all {target}" in out
    assert "labeled 10 / 20" in out
    simulate_oracle(server, project, truth, selected)  # ... and finishes
    snakemake(workdir, target)
    ann = json.loads((workdir / target).read_text())
    assert sorted(a["filename"] for a in ann) == sorted(selected)
    assert len(list(server.client.tasks.list(project=project))) == 20  # resumed, not re-imported


def test_file_backend_reads_a_dropped_export(tmp_path):
    cfg = tiny_config()
    cfg["annotation"]["backend"] = "file"
    workdir = make_workdir(tmp_path, cfg)
    snakemake(workdir, "results/round_1/selection.json", "resources/synthetic/truth.csv")
    selected = read_selected(workdir / "results/round_1/selection.json")
    truth = read_truth(workdir / "resources/synthetic/truth.csv")
    (workdir / "annotations").mkdir()
    export = workdir / "annotations/round_1.json"
    # a full JSON export, as Label Studio's "JSON" format writes it, with one outsider
    tasks = [{"id": i, "data": {"image": f"/data/upload/1/{n}"},
              "annotations": [{"id": i, "was_cancelled": False, "result": [
                  {"from_name": "choice", "to_name": "image", "type": "choices",
                   "value": {"choices": [truth.get(n, "track")]}}]}]} for i, n in enumerate(selected + ["stranger.jpg"])]
    export.write_text(json.dumps(tasks))
    proc = snakemake(workdir, "results/round_1/annotations.json", check=False)
    assert proc.returncode != 0
    assert "record 20: image 'stranger.jpg' is not in this round's selection" in proc.stdout + proc.stderr
    export.write_text(json.dumps(tasks[:-1]))
    snakemake(workdir, "results/round_1/annotations.json")
    ann = json.loads((workdir / "results/round_1/annotations.json").read_text())
    assert {filename_of(a["image"]): a["choice"] for a in ann} == {n: truth[n] for n in selected}
