"""The Label Studio backend against a real server (started once per session, see conftest)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sklearn.metrics import cohen_kappa_score

from bps_labeler.errors import InputError
from bps_labeler.labeling.agreement import agreement
from bps_labeler.labeling.annotations import filename_of, from_full_export, resolve, run_image_folders
from bps_labeler.labeling.labelstudio import (
    LabelStudioSpec,
    choice_result,
    collect_labels,
    connect,
    ensure_local_storage,
    ensure_overlap,
    ensure_project,
    export_tasks,
    import_tasks,
    progress,
    simulate_oracle,
    task_data,
    wait_for_labels,
)

CATS = ("track", "no track")


@pytest.fixture()
def images(labelstudio, tmp_path) -> tuple[Path, list[str]]:
    image_dir = tmp_path / "images"
    image_dir.mkdir()
    names = [f"P242_0000000000{i}-A1_001_00{i}_proj.jpg" for i in range(6)]
    for n in names:
        Image.new("L", (20, 20), 128).save(image_dir / n)
    return image_dir, names


def unique_title(request) -> str:
    return f"test-{request.node.name}"[:50]


def test_project_is_created_once_with_the_tutorials_interface(labelstudio, request):
    server = connect(labelstudio["url"], labelstudio["token_env"])
    title = unique_title(request)
    first = ensure_project(server, title, CATS)
    assert ensure_project(server, title, CATS) == first
    same = [p for p in server.client.projects.list(title=title) if p.title == title]
    assert len(same) == 1
    project = server.client.projects.get(first)
    assert '<Choices name="choice" toName="image"' in project.label_config
    assert 'value="track" hotkey="1"' in project.label_config and 'value="no track" hotkey="2"' in project.label_config
    assert "53BP1" in project.expert_instruction
    # Label Studio renders the instructions as HTML: the choices are list items, not one line
    assert "<li><b>track</b> (hotkey 1)</li>" in project.expert_instruction


def test_import_twice_makes_no_duplicates_and_keeps_annotations(labelstudio, images, request):
    image_dir, names = images
    server = connect(labelstudio["url"], labelstudio["token_env"])
    project = ensure_project(server, unique_title(request), CATS)
    ensure_local_storage(server, project, image_dir)
    ensure_local_storage(server, project, image_dir)
    assert len(list(server.client.import_storage.local.list(project=project))) == 1
    root = Path(labelstudio["document_root"])
    ids = import_tasks(
        server,
        project,
        names[:4],
        root,
        image_dir,
        predictions={n: ("track", 0.8) for n in names[:4]},
        model_version="round_0",
    )
    simulate_oracle(server, project, {n: "track" for n in names}, names[:2])
    again = import_tasks(server, project, names, root, image_dir)  # two more, four already there
    assert {n: again[n] for n in names[:4]} == ids
    tasks = list(server.client.tasks.list(project=project, fields="all"))
    assert sorted(t.data["filename"] for t in tasks) == sorted(names)
    assert sum(t.total_annotations for t in tasks) == 2  # existing annotations untouched
    assert progress(server, project, names) == (2, sorted(names[2:]))
    task = next(t for t in tasks if t.data["filename"] == names[0])
    assert task.total_predictions == 1  # the previous model's guess as a pre-annotation
    # the image really is served through the local-files storage
    import urllib.request

    req = urllib.request.Request(
        labelstudio["url"] + task.data["image"], headers={"Authorization": f"Token {labelstudio['token']}"}
    )
    with urllib.request.urlopen(req) as r:
        assert r.status == 200 and r.read(2) == b"\xff\xd8"


def test_simulated_labeler_and_export(labelstudio, images, request):
    image_dir, names = images
    truth = {n: CATS[i % 2] for i, n in enumerate(names)}
    spec = LabelStudioSpec(
        url=labelstudio["url"], document_root=labelstudio["document_root"], simulate="oracle", poll_s=0.2, timeout_s=30
    )
    records, url = collect_labels(
        spec,
        unique_title(request),
        names,
        image_dir,
        CATS,
        "resume",
        extra={n: {"round": 1} for n in names},
        truth=truth,
    )
    # the real export's image paths are recognised as this run's folder (relative to the root)
    folders = run_image_folders(str(image_dir), "elsewhere/datasource")
    labels, report = resolve(from_full_export(records, url), url, names, CATS, folders=folders)
    assert {filename_of(r["image"]): r["choice"] for r in labels} == truth
    with pytest.raises(InputError, match="not where this run's images are"):
        resolve(from_full_export(records, url), url, names, CATS, folders=["/some/other/dataset"])
    assert report["unlabeled"] == [] and report["disagreements"] == []
    assert all(r["data"]["round"] == 1 for r in records)  # task data travels into the export


def test_an_export_of_uploaded_images_matches_their_names(labelstudio, images, request):
    """People may upload the round's JPGs through Label Studio's UI instead of local files."""
    image_dir, names = images
    server = connect(labelstudio["url"], labelstudio["token_env"])
    project = ensure_project(server, unique_title(request), CATS)
    for name in names[:3]:  # what the UI's "Upload Files" sends
        with open(image_dir / name, "rb") as f:
            httpx.post(
                f"{labelstudio['url']}/api/projects/{project}/import",
                headers={"Authorization": f"Token {labelstudio['token']}"},
                files={name: (name, f, "image/jpeg")},
                timeout=60,
            ).raise_for_status()
    tasks = list(server.client.tasks.list(project=project))
    assert len(tasks) == 3
    for t in tasks:  # Label Studio 1.23 keeps the upload under a random prefix
        assert re.fullmatch(rf"/data/upload/{project}/[0-9a-f]{{8}}-P242_.*\.jpg", t.data["image"]), t.data
        server.client.annotations.create(id=t.id, result=[choice_result("track")], lead_time=1.0)
    export = export_tasks(server, project, [int(t.id) for t in tasks])
    folders = run_image_folders(str(image_dir), "elsewhere/datasource")  # an upload is Label Studio's copy
    labels, report = resolve(from_full_export(export, "export.json"), "export.json", names[:3], CATS, folders=folders)
    assert sorted(filename_of(r["image"]) for r in labels) == sorted(names[:3])
    assert report["unlabeled"] == []


def test_skipped_and_disagreeing_tasks_follow_the_rule(labelstudio, images, request):
    image_dir, names = images
    server = connect(labelstudio["url"], labelstudio["token_env"])
    project = ensure_project(server, unique_title(request), CATS)
    ids = import_tasks(server, project, names[:3], Path(labelstudio["document_root"]), image_dir)

    def annotate(name, choice=None, cancelled=False):
        result = (
            []
            if choice is None
            else [{"from_name": "choice", "to_name": "image", "type": "choices", "value": {"choices": [choice]}}]
        )
        server.client.annotations.create(id=ids[name], result=result, was_cancelled=cancelled)

    annotate(names[0], "track")
    annotate(names[0], "no track")  # a tie: the latest wins
    annotate(names[1], "track")
    annotate(names[1], "track")
    annotate(names[1], "no track")  # majority: track
    annotate(names[2], cancelled=True)  # skipped
    wait_for_labels(server, project, names[:3], timeout_s=5, poll_s=0.2, resume_command="x")
    tasks = export_tasks(server, project, list(ids.values()))  # full JSON: what the store keeps
    labels, report = resolve(from_full_export(tasks, "export"), "export", names[:3], CATS)
    assert {filename_of(r["image"]): r["choice"] for r in labels} == {names[0]: "no track", names[1]: "track"}
    assert report["skipped"] == [names[2]] and report["unlabeled"] == []  # the skip leaves a trace
    minimal = export_tasks(server, project, list(ids.values()), export_type="JSON_MIN")
    labels_min, _ = resolve(minimal, "export", names[:3], CATS)
    assert {r["filename"]: r["choice"] for r in labels_min} == {names[0]: "no track", names[1]: "track"}
    only = export_tasks(server, project, [ids[names[1]]])  # other tasks of the project stay out
    assert [filename_of(t["data"]["image"]) for t in only] == [names[1]]
    assert len(only[0]["annotations"]) == 3
    assert {d["filename"]: d["votes"] for d in report["disagreements"]} == {
        names[0]: {"track": 1, "no track": 1},
        names[1]: {"track": 2, "no track": 1},
    }


def test_timeout_says_where_and_how_to_resume(labelstudio, images, request):
    image_dir, names = images
    server = connect(labelstudio["url"], labelstudio["token_env"])
    project = ensure_project(server, unique_title(request), CATS)
    import_tasks(server, project, names, Path(labelstudio["document_root"]), image_dir)
    simulate_oracle(server, project, {n: "track" for n in names}, names[:2])
    with pytest.raises(InputError) as err:
        wait_for_labels(
            server,
            project,
            names,
            timeout_s=0.5,
            poll_s=0.2,
            resume_command="snakemake --cores all results/round_1/model.ckpt",
        )
    msg = str(err.value)
    assert f"4 of 6 task(s) still unlabeled in {labelstudio['url']}/projects/{project}/data" in msg
    assert msg.endswith(
        "Nothing is lost: label them, then resume with: snakemake --cores all results/round_1/model.ckpt"
    )


def test_wrong_token_names_the_variable_not_the_token(labelstudio, monkeypatch):
    monkeypatch.setenv("MY_LS_TOKEN", "0" * 40)
    with pytest.raises(InputError) as err:
        connect(labelstudio["url"], "MY_LS_TOKEN")
    assert "refused the API token in $MY_LS_TOKEN (HTTP 401)" in str(err.value)
    assert "0" * 40 not in str(err.value) and labelstudio["url"] in str(err.value)


def test_missing_token_variable(labelstudio, monkeypatch):
    monkeypatch.delenv("NOT_SET_TOKEN", raising=False)
    with pytest.raises(InputError, match="environment variable NOT_SET_TOKEN is not set"):
        connect(labelstudio["url"], "NOT_SET_TOKEN")


def test_server_down_is_retried_then_explained(monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    monkeypatch.setenv("SOME_TOKEN", "x" * 40)
    with pytest.raises(InputError) as err:
        connect(f"http://127.0.0.1:{port}", "SOME_TOKEN", retries=3, backoff_s=0.05)
    assert f"Label Studio at http://127.0.0.1:{port} did not answer after 3 tries (ConnectError)" in str(err.value)
    assert "make labelstudio" in str(err.value)


def test_server_errors_are_retried_with_backoff_then_named(monkeypatch):
    """A server that keeps answering 503 is retried, then reported with its URL and status."""
    import http.server
    import threading

    hits = []

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            hits.append(self.path)
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"detail": "busy"}')

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("SOME_TOKEN", "y" * 40)
    try:
        with pytest.raises(InputError, match=rf"Label Studio at {url} did not answer after 3 tries \(HTTP 503\)"):
            connect(url, "SOME_TOKEN", retries=3, backoff_s=0.05)
    finally:
        httpd.shutdown()
    assert len(hits) == 3  # our retries only: the SDK's own blind retries are off


def test_tasks_are_blind_to_the_condition_unless_asked():
    meta = {"particle_type": "Fe", "dose_Gy": 0.82, "hr_post_exposure": 4, "snr": 7.5}
    assert task_data(meta, 2, show_condition=False) == {"snr": 7.5, "round": 2}
    assert task_data(meta, None, show_condition=True) == {**meta, "round": "validation"}
    assert LabelStudioSpec().attach_predictions is False and LabelStudioSpec().show_condition is False


def test_the_wait_for_labels_carries_on_through_a_server_outage(labelstudio, images, request, caplog):
    """The server stops answering mid-wait (restarted, network gone), comes back, people finish."""
    import threading

    from faulty_proxy import FaultyProxy

    image_dir, names = images
    direct = connect(labelstudio["url"], labelstudio["token_env"])
    project = ensure_project(direct, unique_title(request), CATS)
    ids = import_tasks(direct, project, names[:2], Path(labelstudio["document_root"]), image_dir)
    with FaultyProxy(labelstudio["url"], []) as proxy:
        # the waiting side sees the server through the proxy, with few quick retries
        waiting = connect(proxy.url, labelstudio["token_env"], retries=2, backoff_s=0.05)
        outcome: list[object] = []

        def wait() -> None:
            try:
                wait_for_labels(waiting, project, names[:2], timeout_s=120, poll_s=0.2, resume_command="x")
                outcome.append("done")
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                outcome.append(exc)

        with caplog.at_level("WARNING"):
            thread = threading.Thread(target=wait)
            thread.start()
            time.sleep(1)
            proxy.down = True  # several polls, each past its retries, find nobody there
            time.sleep(3)
            assert thread.is_alive(), outcome
            proxy.down = False
            for name in names[:2]:  # people label (straight on the server)
                direct.client.annotations.create(id=ids[name], result=[choice_result("track")], lead_time=1.0)
            thread.join(timeout=60)
    assert outcome == ["done"]
    assert "did not answer after 2 tries" in caplog.text and "Still waiting, and asking again" in caplog.text


def test_the_server_listens_where_it_was_told_and_nowhere_else(labelstudio):
    """The session's server was started with host 127.0.0.2 (conftest): it answers there, and
    the same port on 127.0.0.1 is closed."""
    url = httpx.URL(labelstudio["url"])
    assert url.host == "127.0.0.2"
    assert httpx.get(f"{labelstudio['url']}/health", timeout=10).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{url.port}/health", timeout=5)


@pytest.mark.parametrize(
    ("host", "exposed"),
    [
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("localhost", False),
        ("::1", False),
        ("0.0.0.0", True),
        ("10.1.2.3", True),
        ("lab.example.org", True),
    ],
)
def test_binding_beyond_loopback_says_what_it_exposes(host, exposed):
    from bps_labeler.labeling.labelstudio_server import exposure

    said = exposure(host, 8080)
    assert bool(said) is exposed
    if exposed:
        assert "plain HTTP" in said and "SSH tunnel" in said and "8080" in said
        assert ("every network interface" in said) is (host == "0.0.0.0")


def test_a_proxied_server_builds_its_links_from_the_public_address(tmp_path):
    from bps_labeler.labeling.labelstudio_server import server_env

    env = server_env(tmp_path, tmp_path, "u", "p", "t", public_url="https://ls.lab.example.org/")
    assert env["LABEL_STUDIO_HOST"] == "https://ls.lab.example.org"
    assert env["LABEL_STUDIO_CSRF_TRUSTED_ORIGINS"] == "https://ls.lab.example.org"
    assert "LABEL_STUDIO_HOST" not in server_env(tmp_path, tmp_path, "u", "p", "t")
    with pytest.raises(InputError, match="give the address people open"):
        server_env(tmp_path, tmp_path, "u", "p", "t", public_url="ls.lab.example.org")


def test_two_labelers_with_an_overlap_of_two_and_their_kappa(labelstudio, images, request):
    """Label Studio's own overlap: each task waits for two people; the agreement computed from
    the export is scikit-learn's Cohen's kappa on the two people's answers."""
    image_dir, names = images
    server = connect(labelstudio["url"], labelstudio["token_env"])
    project = ensure_project(server, unique_title(request), CATS)
    ensure_overlap(server, project, 2, 1.0)
    ensure_overlap(server, project, 2, 1.0)  # again: nothing to change
    settings = server.client.projects.get(id=project)
    assert (settings.maximum_annotations, settings.overlap_cohort_percentage) == (2, 100)
    ensure_local_storage(server, project, image_dir)
    ids = import_tasks(server, project, names, Path(labelstudio["document_root"]), image_dir)
    tag = request.node.name[-12:]
    people = [
        server.client.users.create(username=f"{who}-{tag}", email=f"{who}-{tag}@lab.example.org")
        for who in ("ana", "ben")
    ]
    ana = [CATS[i % 2] for i in range(len(names))]
    ben = [CATS[i % 2] if i not in (1, 4) else CATS[(i + 1) % 2] for i in range(len(names))]
    for person, answers in zip(people, (ana, ben)):
        assert progress(server, project, names)[0] == 0  # every task waits for two people
        for name, choice in zip(names, answers):
            server.client.annotations.create(id=ids[name], result=[choice_result(choice)], completed_by=person.id)
    assert progress(server, project, names) == (len(names), [])
    tasks = export_tasks(server, project, list(ids.values()))
    records = from_full_export(tasks, "export")
    labels, report = resolve(records, "export", names, CATS)
    out = agreement(records, {filename_of(r["image"]): r["choice"] for r in labels}, CATS)
    # scikit-learn on the export itself: each task's two annotations, by who made them
    by = {p.id: {} for p in people}
    for t in tasks:
        for a in t["annotations"]:
            by[a["completed_by"]][t["data"]["filename"]] = a["result"][0]["value"]["choices"][0]
    first, second = (by[p.id] for p in people)
    expected = cohen_kappa_score([first[n] for n in names], [second[n] for n in names])
    (pair,) = out["pairs"]
    assert pair["cohen_kappa"] == pytest.approx(expected, abs=1e-4) and pair["n_images"] == len(names)
    assert sorted(pair["labelers"]) == sorted(str(p.id) for p in people)
    assert {d["filename"] for d in out["disagreements"]} == {names[1], names[4]}
    assert len(report["disagreements"]) == 2  # the tie rule picked one answer for each


def test_labelers_sign_up_through_the_invite_link_and_are_listed_by_id(labelstudio, capsys):
    from bps_labeler.cli import main

    url = labelstudio["url"]
    assert main(["labelers", "--url", url, "--invite"]) == 0
    link = re.search(rf"{re.escape(url)}/user/signup/?\?token=\w+", capsys.readouterr().out).group(0)
    # a labeler opens it and signs up with a password of their own
    with httpx.Client(follow_redirects=True) as web:
        form = web.get(link)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        who = "cleo@lab.example.org"
        web.post(link, data={"email": who, "password": "a-long-own-secret-9", "csrfmiddlewaretoken": csrf})
        assert web.get(f"{url}/api/current-user/whoami").json()["email"] == who
    assert main(["labelers", "--url", url]) == 0
    listed = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert who in listed.values()
