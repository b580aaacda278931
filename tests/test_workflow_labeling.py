"""The workflow with human-label backends: Label Studio (real server) and dropped-in files."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import socket
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from workflows import SNAKEMAKE, make_workdir, only_look, snakemake, tiny_config, unlock_killed_run

from bps_labeler.labeling.annotations import filename_of, read_truth
from bps_labeler.labeling.labelstudio import connect, ensure_project, simulate_oracle
from bps_labeler.selection.records import read_selected
from bps_labeler.workflow.status import format_status, set_status

pytestmark = pytest.mark.workflow


def ls_config(labelstudio, project: str, **overrides) -> dict:
    cfg = tiny_config()
    cfg["annotation"]["backend"] = "labelstudio"
    settings = {
        "url": labelstudio["url"],
        "document_root": labelstudio["document_root"],
        "poll_s": 0.5,
        "project": project,
        "validation_project": f"{project}-val",
        "simulate": "oracle",
    }
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
        assert report["n_labeled"] == 20 and report["labeled_in"].startswith(f"{labelstudio['url']}/projects/")
        # one (simulated) labeler: nothing to agree on, and nothing made up
        assert len(report["agreement"]["labelers"]) == 1 and report["agreement"]["pairs"] == []
        kept = json.loads((workdir / f"annotations/round_{r}.selection.json").read_text())
        assert kept["labeler"]["kind"] == "simulated" and kept["selection"]["round"] == r
    m = json.loads((workdir / "results/round_2/metrics.json").read_text())
    assert m["n_labels"] == 40 and m["n_val"] == 48
    # people get only the validation images the condition does not answer; the rule answers the rest
    val_tasks = json.loads((workdir / "annotations/validation.json").read_text())
    rule = {Path(r["image"]).name for r in json.loads((workdir / "results/data/known_answers.json").read_text())}
    assert val_tasks and not {Path(t["data"]["image"]).name for t in val_tasks} & rule
    val_records = json.loads((workdir / "results/validation/annotations.json").read_text())
    assert len(val_tasks) + sum(r.get("annotator") == "rule" for r in val_records) == 48
    tasks = json.loads((workdir / "annotations/round_2.json").read_text())
    assert not any(t.get("predictions") for t in tasks)  # blind: no model guess shown ...
    assert all("particle_type" not in t["data"] and "dose_Gy" not in t["data"] for t in tasks)  # ... nor the condition
    log = (workdir / "logs/round_2/labelstudio.log").read_text()
    assert "exported to annotations/round_2.json" in log and "404" not in log  # no pager noise per poll
    # labeling is done once: the next run neither asks Label Studio nor retrains anything
    assert "Nothing to be done" in snakemake(workdir, "-n", "results/round_2/model.ckpt").stdout
    # the token is in no log, result, export, Snakemake record or the report
    snakemake(workdir)  # the report's pictures and learning curve (the default target)
    snakemake(workdir, "--report", "report.zip")
    with zipfile.ZipFile(workdir / "report.zip") as z:
        assert not [n for n in z.namelist() if labelstudio["token"].encode() in z.read(n)]
    for path in workdir.rglob("*"):
        if path.is_file() and path.suffix != ".zip":
            assert labelstudio["token"].encode() not in path.read_bytes(), path
    # a second run changes nothing: no duplicate tasks
    snakemake(workdir, "results/round_2/model.ckpt")
    server = connect(labelstudio["url"], labelstudio["token_env"])
    project = ensure_project(server, "wf-loop", ("track", "no track"))
    assert len(list(server.client.tasks.list(project=project))) == 40


def test_no_wait_run_ends_at_once_then_a_rerun_after_labeling_trains(labelstudio, tmp_path):
    """`wait: false` (the SLURM profile's): the run imports the tasks and ends with one line per
    set; people label while nothing runs; the same command then takes their labels and trains."""
    cfg = ls_config(labelstudio, "wf-nowait", simulate="none", wait=False, timeout_s=3600)
    workdir = make_workdir(tmp_path, cfg)
    target = "results/round_1/model.ckpt"
    command = [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        "--keep-going",  # as the SLURM profile does: every set that is ready reaches Label Studio
        target,
    ]  # the line repeats it, config and all,
    started = Path(os.environ.get("PWD", Path.cwd()))  # with the program relative to where it was run
    if Path(SNAKEMAKE).is_relative_to(started):
        command[0] = str(Path(SNAKEMAKE).relative_to(started))
    snakemake(workdir, "results/round_1/selection.json", "resources/synthetic/truth.csv")
    selected = read_selected(workdir / "results/round_1/selection.json")
    truth = read_truth(workdir / "resources/synthetic/truth.csv")
    t = time.monotonic()
    proc = snakemake(workdir, "--keep-going", target, check=False)
    print(f"no-wait run: {time.monotonic() - t:.1f} s")
    assert time.monotonic() - t < 600  # it did not wait for the hour of timeout_s
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0  # the model is not there: people have not labeled
    server = connect(labelstudio["url"], labelstudio["token_env"])
    project = ensure_project(server, "wf-nowait", ("track", "no track"))
    val = ensure_project(server, "wf-nowait-val", ("track", "no track"))
    assert f"task(s) of wf-nowait-val wait for labels at {labelstudio['url']}/projects/{val}/data" in out
    line = f"20 of 20 task(s) of wf-nowait wait for labels at {labelstudio['url']}/projects/{project}/data"
    assert line in out and f"When they are labeled, run: {shlex.join(command)}" in out, out[-5000:]
    assert not (workdir / "annotations/round_1.json").exists()
    alive = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True, check=False)
    assert not alive.stdout.strip(), alive.stdout  # nothing waits for people
    simulate_oracle(server, project, truth, selected[:10])  # people label half ...
    # while nothing runs, `bps-labeler status` reads how far they are from the server
    rows = {r["set"]: r for r in set_status(workdir)}
    assert rows["round_1"]["server"] == {"given": 20, "labeled": 10, "skipped": 0, "left": 10}
    assert "10 / 20 in Label Studio, 0 skipped, 10 left" in format_status(list(rows.values()))
    out = snakemake(workdir, "--keep-going", target, check=False)
    assert "10 of 20 task(s) of wf-nowait wait for labels" in out.stdout + out.stderr
    simulate_oracle(server, project, truth, selected)  # ... then the rest, and the validation set
    simulate_oracle(server, val, truth, [x.data["filename"] for x in server.client.tasks.list(project=val)])
    snakemake(workdir, target)
    ann = json.loads((workdir / "results/round_1/annotations.json").read_text())
    assert {a["filename"]: a["choice"] for a in ann} == {n: truth[n] for n in selected}
    assert len(list(server.client.tasks.list(project=project))) == 20  # resumed, not re-imported
    # the token is in no log, record or export of the runs that stopped and resumed
    for path in workdir.rglob("*"):
        if path.is_file():
            assert labelstudio["token"].encode() not in path.read_bytes(), path


def test_kill_9_during_the_wait_for_labels_loses_no_label(labelstudio, tmp_path):
    """People label while the run waits; the run is killed; they finish; a plain rerun takes all."""
    workdir = make_workdir(tmp_path, ls_config(labelstudio, "wf-kill", simulate="none", timeout_s=600))
    target = "results/round_1/annotations.json"
    snakemake(workdir, "results/round_1/selection.json", "resources/synthetic/truth.csv")
    selected = read_selected(workdir / "results/round_1/selection.json")
    truth = read_truth(workdir / "resources/synthetic/truth.csv")
    log = tmp_path / "killed.log"
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(workdir), "--cores", "2"]
    proc = subprocess.Popen([*cmd, target], stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for(text: str) -> None:
        end = time.monotonic() + 300
        while text not in log.read_text():
            assert proc.poll() is None and time.monotonic() < end, log.read_text()[-3000:]
            time.sleep(0.2)

    wait_for("labeled 0 / 20")
    server = connect(labelstudio["url"], labelstudio["token_env"])
    project = ensure_project(server, "wf-kill", ("track", "no track"))
    simulate_oracle(server, project, truth, selected[:10])  # half the round, during the wait
    wait_for("labeled 10 / 20")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (workdir / "annotations/round_1.json").exists()  # nothing exported half-done
    simulate_oracle(server, project, truth, selected)  # people finish while nothing runs
    only_look(workdir, target)  # the killed run's lock is explained, never removed, by looking
    unlock_killed_run(workdir, target)
    snakemake(workdir, target)
    ann = json.loads((workdir / target).read_text())
    assert {a["filename"]: a["choice"] for a in ann} == {n: truth[n] for n in selected}
    assert len(list(server.client.tasks.list(project=project))) == 20  # resumed, not imported again


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
    tasks = [
        {
            "id": i,
            "data": {"image": f"/data/upload/1/{n}"},
            "annotations": [
                {
                    "id": i,
                    "was_cancelled": False,
                    "result": [
                        {
                            "from_name": "choice",
                            "to_name": "image",
                            "type": "choices",
                            "value": {"choices": [truth.get(n, "track")]},
                        }
                    ],
                }
            ],
        }
        for i, n in enumerate(selected + ["stranger.jpg"])
    ]
    export.write_text(json.dumps(tasks))
    proc = snakemake(workdir, "results/round_1/annotations.json", check=False)
    assert proc.returncode != 0
    assert "record 20: image 'stranger.jpg' is not in this round's selection" in proc.stdout + proc.stderr
    export.write_text(json.dumps(tasks[:-1]))
    snakemake(workdir, "results/round_1/annotations.json")
    ann = json.loads((workdir / "results/round_1/annotations.json").read_text())
    assert {filename_of(a["image"]): a["choice"] for a in ann} == {n: truth[n] for n in selected}


def test_people_labels_survive_settings_a_dead_server_forceall_and_another_backend(labelstudio, tmp_path):
    """Issue cases 1 and 2: changed operational settings, a server that is down, --forceall and
    the default config's oracle never relabel, re-select or lose a round people labeled."""
    cfg = ls_config(labelstudio, "wf-people", simulate="none", timeout_s=1)
    workdir = make_workdir(tmp_path, cfg)
    target = "results/round_1/model.ckpt"
    server = connect(labelstudio["url"], labelstudio["token_env"])
    for _attempt in range(4):  # each run waits for people, times out, and people label what it imported
        if snakemake(workdir, target, check=False).returncode == 0:
            break
        truth = read_truth(workdir / "resources/synthetic/truth.csv")
        for title in ("wf-people", "wf-people-val"):
            simulate_oracle(server, ensure_project(server, title, ("track", "no track")), truth, list(truth))
    else:
        raise AssertionError("round 1 was never labeled")
    project = ensure_project(server, "wf-people", ("track", "no track"))
    kept = json.loads((workdir / "annotations/round_1.selection.json").read_text())
    assert kept["labeler"] == {
        "backend": "labelstudio",
        "simulate": "none",
        "kind": "people",
        "where": f"{labelstudio['url']}/projects/{project}",
    }
    tasks = json.loads((workdir / "annotations/round_1.json").read_text())  # Label Studio's full export
    assert len(tasks) == 20 and all(t["annotations"] for t in tasks)

    def snapshot():
        files = [
            *sorted(workdir.glob("annotations/*")),
            workdir / "results/round_1/selection.json",
            workdir / "results/round_1/annotations.json",
            workdir / "results/validation/annotations.json",
        ]
        return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}

    before = snapshot()
    # another port (nothing listens there), other timeouts: nothing of round 1 is redone
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    # given as a user would on the command line: nested --config values arrive as strings
    moved = f"annotation={{labelstudio: {{url: '{dead}', timeout_s: 5, poll_s: 3}}}}"
    assert "Nothing to be done" in snakemake(workdir, "-n", target, "--config", moved).stdout
    # with the server down, even --forceall rebuilds round 1 from the store
    snakemake(workdir, target, "--forceall", "--config", moved)
    assert "Label Studio is not asked again" in (workdir / "logs/round_1/labelstudio.log").read_text()
    assert snapshot() == before
    # the resume command run without its config: the oracle is refused before any job runs
    oracle = tiny_config()
    make_workdir_config(workdir, oracle)
    proc = snakemake(workdir, target, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "round 1 was given to backend labelstudio (people) (annotations/round_1.selection.json)" in out
    assert "the configured backend oracle" in out and "Finished jobid" not in out
    assert snapshot() == before
    assert len(list(server.client.tasks.list(project=ensure_project(server, "wf-people", ("track", "no track"))))) == 20


def make_workdir_config(workdir: Path, cfg: dict) -> None:
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
