"""Human labeling through a real Label Studio server (label-studio-sdk).

Each round's images become tasks of one project; the pipeline waits until people have labeled
them, exports the tasks (full JSON) for the label store. Every step is idempotent: rerunning a
rule never creates a duplicate task and never touches an existing annotation, so a rule that
timed out is simply run again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from bps_labeler.data.s3 import S3Location
from bps_labeler.errors import InputError
from bps_labeler.labeling.annotations import CONTROL, image_url
from bps_labeler.labeling.labelstudio_server import TOKEN_ENV
from bps_labeler.utils.progress import duration

log = logging.getLogger(__name__)
T = TypeVar("T")
#: The SDK's own retries would repeat non-idempotent POSTs blindly; `Server.call` retries instead.
ONCE: dict[str, Any] = {"max_retries": 0}

#: Label Studio shows the instructions as HTML: a Markdown list would run into one line.
INSTRUCTIONS = """<p>Please review the following NASA BPS fluorescence microscopy images of individual
nuclei from mouse fibroblast cells. Cells that have been irradiated with high energy radiation may
incur double stranded DNA damage. Tracks, or linear arrangements of bright, visible, circular
fluorescent foci, indicate 53BP1 repair mechanisms. Please classify each image as having a:</p>
<ul>
<li><b>track</b> (hotkey 1)</li>
<li><b>no track</b> (hotkey 2)</li>
</ul>
<p>If you cannot tell, skip the image: skipped images are left out of training.</p>
<p>Thank you for your contributions!</p>"""


def choice_result(label: str) -> dict[str, Any]:
    """One answer of the labeling interface, as predictions and annotations carry it."""
    return {"from_name": CONTROL, "to_name": "image", "type": "choices", "value": {"choices": [label]}}


def label_config(categories: Iterable[str]) -> str:
    """The tutorial's labeling interface: one image, one `choice`, hotkeys 1, 2, ..."""
    choices = "\n".join(f'    <Choice value="{c}" hotkey="{i}"/>' for i, c in enumerate(categories, start=1))
    return (
        "<View>\n"
        '  <Image name="image" value="$image"/>\n'
        f'  <Choices name="{CONTROL}" toName="image" choice="single-radio" showInLine="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


class Unreachable(InputError):
    """The server did not answer (down, restarting, the network gone), as opposed to refusing."""


class LabelsPending(InputError):
    """The tasks are in Label Studio and people have not finished (`wait: false`): not an error
    in anyone's input, but the run cannot go on past this set until they have."""


@dataclass
class Server:
    """A connection that retries transient faults and explains the permanent ones.

    The token is read from the environment variable named `token_env` and never stored in a
    message, a log line or a file.
    """

    url: str
    token_env: str
    client: LabelStudio
    retries: int = 5
    backoff_s: float = 1.0

    def call(self, fn: Callable[..., T], *args: Any, recheck: Callable[[], T | None] | None = None, **kwargs: Any) -> T:
        """Call the SDK, retrying 5xx, 429 and network faults with exponential backoff.

        A write that failed may still have happened on the server (SQLite's "database is
        locked" arrives after the row was made), so before a write is repeated `recheck` looks
        for its effect and returns it if it is there.
        """
        delay = self.backoff_s
        last = ""
        for attempt in range(1, self.retries + 1):
            if attempt > 1 and recheck is not None:
                done = recheck()
                if done is not None:
                    return done
            try:
                return fn(*args, **kwargs)
            except ApiError as exc:
                code = exc.status_code or 0
                if code in (401, 403):
                    raise InputError(
                        f"Label Studio at {self.url} refused the API token in ${self.token_env} "
                        f"(HTTP {code}). Copy the token from Account & Settings > Access Token "
                        f"into {self.token_env}; with `make labelstudio`, source "
                        ".labelstudio/credentials.env."
                    ) from None
                if code < 500 and code != 429:
                    detail = exc.body if isinstance(exc.body, (dict, str)) else ""
                    raise InputError(f"Label Studio at {self.url} answered HTTP {code}: {detail}") from None
                last = f"HTTP {code}"
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = type(exc).__name__
            if attempt < self.retries:
                log.warning(
                    "Label Studio at %s: %s, retry %d/%d in %.0f s", self.url, last, attempt, self.retries - 1, delay
                )
                time.sleep(delay)
                delay *= 2
        raise Unreachable(
            f"Label Studio at {self.url} did not answer after {self.retries} tries ({last}). "
            "Start it with `make labelstudio`, or set annotation.labelstudio.url to your server."
        )


def connect(url: str, token_env: str, retries: int = 5, backoff_s: float = 1.0) -> Server:
    """Open a checked connection: the server answers and accepts the token."""
    token = os.environ.get(token_env)
    if not token:
        raise InputError(
            f"environment variable {token_env} is not set; it must hold your Label Studio API "
            "token (Account & Settings > Access Token). With `make labelstudio`, run "
            "`source .labelstudio/credentials.env`."
        )
    server = Server(url, token_env, LabelStudio(base_url=url, api_key=token, timeout=60), retries, backoff_s)
    server.call(server.client.users.whoami, request_options=ONCE)
    return server


def ensure_project(server: Server, title: str, categories: Iterable[str]) -> int:
    """The id of the project named `title`, created with the tutorial's interface if missing."""

    def find() -> int | None:
        # the API's title filter matches substrings: compare exactly
        projects = server.call(lambda: list(server.client.projects.list(title=title, request_options=ONCE)))
        return next((int(p.id) for p in projects if p.title == title), None)

    found = find()
    if found is not None:
        return found
    project = server.call(
        server.client.projects.create,
        title=title,
        label_config=label_config(categories),
        expert_instruction=INSTRUCTIONS,
        show_instruction=True,
        request_options=ONCE,
        recheck=find,
    )
    log.info("created Label Studio project %r (id %s)", title, getattr(project, "id", project))
    return int(getattr(project, "id", project))


def ensure_overlap(server: Server, project: int, labelers: int, share: float) -> None:
    """Have `labelers` people label `share` of the project's tasks (Label Studio's own
    maximum_annotations and overlap_cohort_percentage: its labeling stream hands a task to that
    many people, and no person twice); the rest get one. Set before any task is imported."""
    percentage = round(100 * share) if labelers > 1 else 100
    current = server.call(server.client.projects.get, id=project, request_options=ONCE)
    if (current.maximum_annotations, current.overlap_cohort_percentage) == (labelers, percentage):
        return
    server.call(
        server.client.projects.update,
        id=project,
        maximum_annotations=labelers,
        overlap_cohort_percentage=percentage,
        request_options=ONCE,
    )
    log.info("project %s: %d labelers per image on %d %% of its tasks", project, labelers, percentage)


def ensure_local_storage(server: Server, project: int, image_dir: Path) -> None:
    """Make sure a local-files storage covers the image folder, so Label Studio serves images.

    The storage is never synced: tasks are imported by the pipeline, one round at a time.
    """
    path = str(Path(image_dir).resolve())

    def covered() -> bool | None:
        storages = server.call(
            lambda: list(server.client.import_storage.local.list(project=project, request_options=ONCE))
        )
        return any(path == s.path or path.startswith(str(s.path).rstrip("/") + "/") for s in storages) or None

    if covered():
        return
    server.call(
        server.client.import_storage.local.create,
        project=project,
        path=path,
        title="pipeline images",
        use_blob_urls=True,
        regex_filter=r".*\.jpg",
        request_options=ONCE,
        recheck=covered,
    )


def ensure_s3_storage(server: Server, project: int, images: S3Location) -> None:
    """Make sure an S3 storage of the project covers `images` (the datasource's labeling folder,
    any endpoint): Label Studio then hands people's
    browsers presigned URLs to the images, and its server needs no copy of the run's folders.

    The keys are this job's own (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)
    and are kept by Label Studio, as any storage it reads; never in a file of the run. The
    storage is never synced: the pipeline imports each set's tasks itself."""

    def covered() -> bool | None:
        storages = server.call(
            lambda: list(server.client.import_storage.s3.list(project=project, request_options=ONCE))
        )
        prefix = images.prefix.strip("/")
        return any(s.bucket == images.bucket and (s.prefix or "").strip("/") == prefix for s in storages) or None

    if covered():
        return
    keys = {
        name: os.environ[var]
        for name, var in (
            ("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
            ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
            ("aws_session_token", "AWS_SESSION_TOKEN"),
        )
        if os.environ.get(var)
    }
    server.call(
        server.client.import_storage.s3.create,
        project=project,
        bucket=images.bucket,
        prefix=images.prefix.strip("/"),
        region_name=images.region,
        **({"s3endpoint": images.endpoint_url} if images.endpoint_url else {}),
        **keys,
        presign=True,
        use_blob_urls=True,
        regex_filter=r".*\.jpg",
        title="pipeline images (S3)",
        request_options=ONCE,
        recheck=covered,
    )


def _tasks(server: Server, project: int) -> list[Any]:
    return server.call(lambda: list(server.client.tasks.list(project=project, fields="all", request_options=ONCE)))


def import_tasks(
    server: Server,
    project: int,
    filenames: list[str],
    document_root: Path,
    image_dir: Path,
    extra: dict[str, dict[str, Any]] | None = None,
    predictions: dict[str, tuple[str, float]] | None = None,
    model_version: str = "",
    s3: S3Location | None = None,
) -> dict[str, int]:
    """Import the images that are not tasks yet; return filename -> task id for all of them.

    `extra` adds data fields per image (metadata, round); `predictions` attaches the previous
    model's guess and confidence as a pre-annotation. With `s3` the tasks name the images by
    their S3 URI, which the project's S3 storage resolves.
    """
    root = None if s3 is not None else Path(image_dir).resolve().relative_to(Path(document_root).resolve())
    existing = {t.data.get("filename"): int(t.id) for t in _tasks(server, project)}
    new = [n for n in filenames if n not in existing]
    if new:
        payload = []
        for name in new:
            task: dict[str, Any] = {
                "data": {
                    "image": s3.uri(name) if s3 is not None else image_url(name, root.as_posix()),
                    "filename": name,
                    **(extra or {}).get(name, {}),
                }
            }
            if predictions and name in predictions:
                label, score = predictions[name]
                task["predictions"] = [
                    {
                        "model_version": model_version,
                        "score": round(float(score), 4),
                        "result": [choice_result(label)],
                    }
                ]
            payload.append(task)

        def imported() -> bool | None:
            present = {t.data.get("filename") for t in _tasks(server, project)}
            return True if set(new) <= present else None

        result = server.call(
            server.client.projects.import_tasks,
            id=project,
            request=payload,
            return_task_ids=True,
            request_options=ONCE,
            recheck=imported,
        )
        log.info("imported %d new task(s), %d already there", len(new), len(filenames) - len(new))
        ids = getattr(result, "task_ids", None)
        if ids and len(ids) == len(new):  # ids come back in payload order
            existing.update(zip(new, map(int, ids)))
        else:  # the import was confirmed by `imported` after a retry: look the ids up
            existing = {t.data.get("filename"): int(t.id) for t in _tasks(server, project)}
    return {n: existing[n] for n in filenames}


def _needed(task: Any) -> int:
    """How many people a task waits for: Label Studio's overlap for it (the project's
    maximum_annotations on its overlap cohort, 1 elsewhere)."""
    return max(1, int(getattr(task, "overlap", None) or 1))


def _done(task: Any) -> bool:
    """A task is done once as many people as it waits for have answered it, submitted or skipped."""
    return (task.total_annotations or 0) + (task.cancelled_annotations or 0) >= _needed(task)


def progress(server: Server, project: int, filenames: list[str]) -> tuple[int, list[str]]:
    """(tasks done, filenames still waiting)."""
    wanted = set(filenames)
    done, waiting = 0, []
    for t in _tasks(server, project):
        name = t.data.get("filename")
        if name not in wanted:
            continue
        if _done(t):
            done += 1
        else:
            waiting.append(name)
    return done, sorted(waiting)


def task_counts(server: Server, project: int, filenames: list[str]) -> dict[str, int]:
    """How a set stands in its project: tasks given, labeled (as many answers as the task waits
    for, at least one submitted), skipped (done, every answer a skip) and left."""
    wanted, labeled, skipped = set(filenames), 0, 0
    for t in _tasks(server, project):
        if t.data.get("filename") not in wanted or not _done(t):
            continue
        if (t.total_annotations or 0) > 0:
            labeled += 1
        else:
            skipped += 1
    return {"given": len(wanted), "labeled": labeled, "skipped": skipped, "left": len(wanted) - labeled - skipped}


def wait_for_labels(
    server: Server,
    project: int,
    filenames: list[str],
    timeout_s: float,
    poll_s: float,
    resume_command: str,
) -> None:
    """Poll until every task is done, logging `done / total`; on timeout say how to resume.

    Nothing is lost on a timeout: the tasks and their annotations stay in the project, the
    selection is kept in the label store, and the rerun picks up where people stopped.
    """
    start = time.monotonic()
    last, said = -1, start
    away: str | None = None
    while True:
        try:
            done, waiting = progress(server, project, filenames)
        except Unreachable as err:
            # a server restarted or a network gone for a while must not end a wait of hours:
            # people's labels are in the server's database, not in this process
            if away is None:
                log.warning("%s Still waiting, and asking again every %g s.", str(err).rstrip(".") + ".", poll_s)
                print(f"Label Studio at {server.url} is not answering; still waiting", flush=True)
            away = str(err)
            if time.monotonic() - start >= timeout_s:
                raise InputError(
                    f"timed out after {timeout_s:g} s waiting for labels, the last of it without an "
                    f"answer from {server.url}. Nothing is lost: start the server, label, then resume "
                    f"with: {resume_command}"
                ) from None
            time.sleep(poll_s)
            continue
        if away is not None:
            log.info("Label Studio at %s answers again", server.url)
            away = None
        now = time.monotonic()
        # on every change, and every 5 minutes while people are away: the console and the log
        if done != last or now - said >= 300:
            line = (
                f"Label Studio project {project}: labeled {done} / {len(filenames)}, waited "
                f"{duration(now - start)}, gives up in {duration(max(0.0, timeout_s - (now - start)))}"
            )
            log.info(line)
            print(line, flush=True)
            last, said = done, now
        if not waiting:
            return
        if time.monotonic() - start >= timeout_s:
            raise InputError(
                f"timed out after {timeout_s:g} s waiting for labels: {len(waiting)} of "
                f"{len(filenames)} task(s) still unlabeled in {server.url}/projects/{project}/data . "
                f"Nothing is lost: label them, then resume with: {resume_command}"
            )
        time.sleep(poll_s)


def simulate_oracle(server: Server, project: int, truth: dict[str, str], filenames: list[str]) -> int:
    """Answer unlabeled tasks through the API from the hidden truth, like a person would."""
    wanted = set(filenames)
    n = 0
    for t in _tasks(server, project):
        name = t.data.get("filename")
        if name not in wanted or _done(t):
            continue
        task_id = int(t.id)

        have = (t.total_annotations or 0) + (t.cancelled_annotations or 0)
        for k in range(have, _needed(t)):  # as many answers as the task waits for

            def annotated(task_id: int = task_id, k: int = k) -> bool | None:
                task = server.call(server.client.tasks.get, str(task_id), request_options=ONCE)
                return True if (task.total_annotations or 0) > k else None

            server.call(
                server.client.annotations.create,
                id=task_id,
                result=[choice_result(truth[name])],
                lead_time=1.0,
                request_options=ONCE,
                recheck=annotated,
            )
        n += 1
    return n


def export_tasks(server: Server, project: int, task_ids: list[int], export_type: str = "JSON") -> list[dict[str, Any]]:
    """The project's export restricted to the given tasks.

    The full JSON export (the default) is what the label store keeps: every annotation with its
    annotator and time, skipped ones included; JSON-MIN leaves skipped tasks out without a trace.
    """
    chunks = server.call(
        lambda: list(
            server.client.projects.exports.download_sync(project, export_type=export_type, request_options=ONCE)
        )
    )
    # one project holds every round's tasks; the export endpoint's `ids` filter is not honoured
    # by Label Studio 1.23 (checked in test_labelstudio), so the round's tasks are picked here
    records = json.loads(b"".join(chunks) or b"[]")
    ids = set(task_ids)
    return [r for r in records if r.get("id") in ids]


#: Task data fields that reveal the exposure condition.
CONDITION_FIELDS = ("particle_type", "dose_Gy", "hr_post_exposure")


def task_data(metadata: dict[str, Any], round_: int | None, show_condition: bool) -> dict[str, Any]:
    """The data fields of a task besides the image: metadata, blind to the condition by default."""
    data = {
        k: (v.item() if hasattr(v, "item") else v)
        for k, v in metadata.items()
        if show_condition or k not in CONDITION_FIELDS
    }
    data["round"] = round_ if round_ is not None else "validation"
    return data


@dataclass(frozen=True)
class LabelStudioSpec:
    """`annotation.labelstudio` of the config."""

    url: str = "http://127.0.0.1:8080"
    token_env: str = TOKEN_ENV
    project: str = "nasa-bps-microscopy"
    validation_project: str = "nasa-bps-microscopy-validation"
    #: The server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, as seen from the working directory.
    document_root: str = "."
    timeout_s: float = 86400.0
    poll_s: float = 10.0
    #: Where the server reads the images: `local` files, `s3` (the datasource's labeling folder,
    #: presigned), or `auto` (s3 when the datasource is on S3).
    images: str = "auto"
    #: People per image (Label Studio's overlap) and the share of each set it applies to.
    overlap: dict[str, Any] = field(
        default_factory=lambda: {"labelers": 1, "validation_share": 1.0, "round_share": 0.0}
    )
    #: False: import and end at once, to be rerun when people are done (no process waits for
    #: them: on a cluster's login node a day-long wait is often killed, and holds the session).
    wait: bool = True
    #: Off by default: a person who sees the model's guess tends to agree with it, and uncertainty
    #: sampling asks exactly where the model may be wrong.
    attach_predictions: bool = False
    #: Off by default: particle and dose answer much of the question and bias the eye; the task
    #: shows only the image and quality measures.
    show_condition: bool = False
    simulate: str = "none"

    def labelers(self) -> int:
        return int(self.overlap.get("labelers", 1))

    def overlap_share(self, validation: bool) -> float:
        """The share of a set labeled by `labelers()` people: the validation set's or a round's."""
        return float(self.overlap.get("validation_share", 1.0) if validation else self.overlap.get("round_share", 0.0))


def collect_labels(
    spec: LabelStudioSpec,
    project_title: str,
    filenames: list[str],
    image_dir: Path,
    categories: tuple[str, ...],
    resume_command: str,
    extra: dict[str, dict[str, Any]] | None = None,
    predictions: dict[str, tuple[str, float]] | None = None,
    model_version: str = "",
    truth: dict[str, str] | None = None,
    before_import: Callable[[str], None] | None = None,
    validation: bool = False,
    s3: S3Location | None = None,
) -> tuple[list[dict[str, Any]], str]:
    """Import, wait for people (or the simulated labeler), export: (full JSON tasks, project URL).

    `before_import` gets the project URL before any task is made: the moment to record which
    images people are given. `validation` picks the set's share of overlap (spec.overlap); `s3`
    has the server read the images from there instead of local files.
    """
    server = connect(spec.url, spec.token_env)
    project = ensure_project(server, project_title, categories)
    url = f"{spec.url}/projects/{project}"
    ensure_overlap(server, project, spec.labelers(), spec.overlap_share(validation))
    if s3 is not None:
        ensure_s3_storage(server, project, s3)
    else:
        ensure_local_storage(server, project, image_dir)
    if before_import is not None:
        before_import(url)
    ids = import_tasks(
        server, project, filenames, Path(spec.document_root), image_dir, extra, predictions, model_version, s3
    )
    if spec.simulate == "oracle":
        if truth is None:
            raise InputError("annotation.labelstudio.simulate is 'oracle' but no truth file was given.")
        n = simulate_oracle(server, project, truth, filenames)
        log.info("simulated labeler answered %d task(s)", n)
    if not spec.wait:
        done, waiting = progress(server, project, filenames)
        if waiting:
            raise LabelsPending(
                f"{len(waiting)} of {len(filenames)} task(s) of {project_title} wait for labels at {url}/data "
                f"({done} labeled; annotation.labelstudio.wait is false, so nothing runs while people label). "
                f"When they are labeled, run: {resume_command}"
            )
        log.info("%s: all %d task(s) labeled", project_title, len(filenames))
    else:
        wait_for_labels(server, project, filenames, spec.timeout_s, spec.poll_s, resume_command)
    return export_tasks(server, project, list(ids.values())), url
