"""Each job as a run in the experiment trackers people use: Weights & Biases, MLflow, DVCLive.

Why Lightning's loggers: the two training jobs already log through one (the CSV every job writes
as its log), so a tracker is one more logger in the same Trainer, and the jobs that train nothing
(selection, report) write through the same objects. One job is one run; runs are grouped by the
pipeline run (the working folder's name unless `tracking.group` names it) and carry their round,
so a tool lists them as the rounds went, and the learning-curve job draws the curve over rounds as
one chart.

Tracking never changes what the pipeline computes: jobs read these settings from the config, not
from rule params (so changing a logger reruns nothing), the loggers draw no random numbers, and
the secrets (WANDB_API_KEY, MLFLOW_TRACKING_USERNAME, _PASSWORD, _TOKEN) are read by the tools
from the environment, never from the config, and are not written anywhere.

Without a key W&B runs offline, so a laptop or a cluster node without network keeps every run in
`<tracking.dir>/wandb/` for `wandb sync` later; MLflow's store is an SQLite file there unless
`tracking.mlflow_uri` names a server; DVCLive writes a folder per job whose dvc.yaml lets
`dvc metrics show`, `dvc plots show` and `dvc exp show` find it.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Lightning is imported only when a tracker is on: selection jobs stay light
    from lightning.pytorch.loggers import Logger

#: What `tracking.loggers` may name. "csv" is the job's metrics CSV, which is always written (it is
#: the training rules' log); it is listed so that the default reads as what happens.
TOOLS = ("csv", "wandb", "mlflow", "dvclive")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackingSpec:
    """The `tracking` section of the config (workflow/schemas/config.schema.yaml)."""

    loggers: tuple[str, ...] = ("csv",)
    project: str = "bps-tracks"
    group: str | None = None
    dir: str = "tracking"
    mlflow_uri: str | None = None
    wandb_mode: str = "auto"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TrackingSpec:
        section = dict(config.get("tracking") or {})
        section["loggers"] = tuple(section.get("loggers", cls.loggers))
        unknown = sorted(set(section["loggers"]) - set(TOOLS))
        if unknown:
            raise ValueError(f"tracking.loggers: {unknown} unknown; choose from {list(TOOLS)}")
        return cls(**section)

    @property
    def trackers(self) -> tuple[str, ...]:
        """The tools beyond the CSV, in a fixed order whatever the config's."""
        return tuple(t for t in TOOLS[1:] if t in self.loggers)

    def group_name(self, workdir: Path) -> str:
        return self.group or workdir.resolve().name


class JobRun:
    """One job's run in every tracker of the config; empty (and free) when none is on.

    The runs are opened with each tool's own client, so a job that trains nothing (selection,
    report) does without Lightning, whose import costs about 5 s; a training job hands
    `trackers`, Lightning's loggers around the same runs, to its Trainer.
    """

    def __init__(self, runs: dict[str, Any] | None = None) -> None:
        self.runs = runs or {}
        self._loggers: list[Logger] | None = None

    @property
    def trackers(self) -> list[Logger]:
        """Lightning's loggers writing to this job's runs: W&B's, MLflow's and DVCLive's own."""
        if self._loggers is None:
            self._loggers = [_lightning(tool, handle) for tool, handle in self.runs.items()]
        return self._loggers

    def log_figures(self, values: Mapping[str, Any], step: int | None = None) -> None:
        """Numbers only (nested keys joined by '/'); text, lists and NaN are left out. `step`
        (the round, for the learning curve) is the x-axis in each tool."""
        flat = numbers(values)
        self._each("log figures", lambda tool, handle: _figures(tool, handle, flat, step))

    def log_pictures(self, paths: Iterable[Path]) -> None:
        paths = [Path(p) for p in paths]
        self._each("log pictures", lambda tool, handle: [_picture(tool, handle, p) for p in paths])

    def close(self, status: str = "success") -> None:
        self._each("close its run", lambda tool, handle: _end(tool, handle, status))
        self.runs = {}

    def _each(self, what: str, action: Any) -> None:
        """`action` for each tool; a tool that fails is warned about and left out from then on:
        a tracking server's hiccup must not fail a job whose results are already written (Snakemake
        would delete them)."""
        for tool, handle in list(self.runs.items()):
            try:
                action(tool, handle)
            except Exception as err:  # noqa: BLE001 - any tool's error, reported and survived
                log.warning(
                    "tracking: %s could not %s (%s: %s); the job goes on without it",
                    tool,
                    what,
                    type(err).__name__,
                    err,
                )
                del self.runs[tool]


def numbers(values: Mapping[str, Any]) -> dict[str, float]:
    """The numeric leaves of nested `values`, keyed 'a/b/c': what every tracker takes as a metric."""
    return {
        key: float(value)
        for key, value in _flatten(values).items()
        if isinstance(value, int | float) and (isinstance(value, bool) or math.isfinite(value))
    }


def open_run(
    spec: TrackingSpec, job: str, round_: int | None, config: Mapping[str, Any], workdir: Path = Path(".")
) -> JobRun:
    """Start this job's run in each tracker of `spec`, with the resolved config as its parameters."""
    if not spec.trackers:
        return JobRun()
    group = spec.group_name(workdir)
    name = f"round_{round_}/{job}" if round_ is not None else job
    tags = {"pipeline_run": group, "job": job, "round": "" if round_ is None else str(round_)}
    where = (workdir / spec.dir).resolve()
    where.mkdir(parents=True, exist_ok=True)
    params = {"config": dict(config), **tags}
    start = {"wandb": _wandb, "mlflow": _mlflow, "dvclive": _dvclive}
    run = JobRun()
    for tool in spec.trackers:
        try:
            run.runs[tool] = start[tool](spec, where, group, name, tags, params)
        except Exception as err:  # noqa: BLE001 - a tracker that cannot start does not stop the job
            log.warning(
                "tracking: %s could not start this job's run (%s: %s); the job goes on without it. "
                "Check tracking.* in the config and the tool's credentials in the environment.",
                tool,
                type(err).__name__,
                err,
            )
    return run


@contextmanager
def job_run(snakemake: Any) -> Iterator[JobRun]:
    """The run of the Snakemake job `snakemake` (a script's object): closed as failed on an error."""
    spec = TrackingSpec.from_config(snakemake.config)
    round_ = snakemake.wildcards.get("round")
    run = open_run(spec, snakemake.rule, None if round_ is None else int(round_), snakemake.config)
    try:
        yield run
    except BaseException:
        run.close("failed")
        raise
    run.close("success")


def _wandb(spec: TrackingSpec, where: Path, group: str, name: str, tags: dict[str, str], params: dict) -> Any:
    import wandb

    mode = spec.wandb_mode
    if mode == "auto":
        mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
    return wandb.init(
        project=spec.project,
        group=group,
        name=name,
        job_type=tags["job"],
        tags=[f"round_{tags['round']}"] if tags["round"] else [],
        dir=str(where),
        mode=mode,
        config=params,
        # the job's log already has what it prints; W&B need not copy it, nor the code
        settings=wandb.Settings(console="off", save_code=False, silent=True),
    )


def _mlflow(spec: TrackingSpec, where: Path, group: str, name: str, tags: dict[str, str], params: dict) -> Any:
    from filelock import FileLock
    from mlflow import MlflowClient
    from mlflow.entities import Param

    local = spec.mlflow_uri is None
    client = MlflowClient(f"sqlite:///{where / 'mlflow.db'}" if local else spec.mlflow_uri)
    # two jobs starting together would both create the store's tables and the experiment
    with FileLock(where / "mlflow.lock") if local else nullcontext():
        experiment = client.get_experiment_by_name(spec.project)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment(
                spec.project, artifact_location=(where / "mlflow-artifacts").as_uri() if local else None
            )
        )
    run_id = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
    flat = [Param(k, str(v)[:6000]) for k, v in _flatten(params).items()]
    for i in range(0, len(flat), 100):  # MLflow takes at most 100 parameters a call
        client.log_batch(run_id, params=flat[i : i + 100])
    return client, run_id


def _dvclive(spec: TrackingSpec, where: Path, group: str, name: str, tags: dict[str, str], params: dict) -> Any:
    from dvclive import Live

    folder = where / "dvclive" / group / name
    live = Live(
        dir=str(folder / "dvclive"),
        # its own dvc.yaml, beside (not in) its folder, where DVCLive keeps it free of repeats:
        # the project's dvc.yaml is not rewritten, and DVC finds this one
        dvcyaml=str(folder / "dvc.yaml"),
        save_dvc_exp=False,
        report=None,
    )
    live.log_params(params)
    return live


def _lightning(tool: str, handle: Any) -> Logger:
    """Lightning's logger of `tool` around a run already open."""
    if tool == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        return WandbLogger(experiment=handle)
    if tool == "mlflow":
        from lightning.pytorch.loggers import MLFlowLogger

        client, run_id = handle
        return MLFlowLogger(tracking_uri=client.tracking_uri, run_id=run_id)
    from dvclive.lightning import DVCLiveLogger

    return DVCLiveLogger(experiment=handle)


def _figures(tool: str, handle: Any, values: dict[str, float], step: int | None) -> None:
    if tool == "wandb":
        if step is not None:
            handle.define_metric("round")
            values = {**values, "round": step}
            for key in values:
                handle.define_metric(key, step_metric="round")
        handle.log(values)
    elif tool == "mlflow":
        import time

        from mlflow.entities import Metric

        client, run_id = handle
        now = int(time.time() * 1000)
        batch = [Metric(k, v, now, step or 0) for k, v in values.items()]
        for i in range(0, len(batch), 1000):
            client.log_batch(run_id, metrics=batch[i : i + 1000])
    else:
        if step is not None:
            handle.step = step
        for key, value in values.items():
            handle.log_metric(key, value, plot=step is not None)
        handle.make_summary()


def _picture(tool: str, handle: Any, path: Path) -> None:
    if tool == "wandb":
        import wandb

        handle.log({path.stem: wandb.Image(str(path))})
    elif tool == "mlflow":
        client, run_id = handle
        client.log_artifact(run_id, str(path), "pictures")
    else:
        handle.log_image(path.name, str(path))


def _end(tool: str, handle: Any, status: str) -> None:
    if tool == "wandb":
        handle.finish(exit_code=0 if status == "success" else 1)
    elif tool == "mlflow":
        client, run_id = handle
        client.set_terminated(run_id, "FINISHED" if status == "success" else "FAILED")
    else:
        handle.end()


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as 'a/b/c' keys, as MLflow takes them (lists and None as text)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = value
    return out
