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

import math
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Lightning is imported only when a tracker is on: selection jobs stay light
    from lightning.pytorch.loggers import Logger

#: What `tracking.loggers` may name. "csv" is the job's metrics CSV, which is always written (it is
#: the training rules' log); it is listed so that the default reads as what happens.
TOOLS = ("csv", "wandb", "mlflow", "dvclive")


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


@dataclass
class JobRun:
    """One job's run in every tracker of the config; empty (and free) when none is on."""

    trackers: list[Logger] = field(default_factory=list)
    name: str = ""

    def log_figures(self, values: Mapping[str, Any], step: int | None = None) -> None:
        """Numbers only (nested keys joined by '/'); text, lists and NaN are left out."""
        flat = numbers(values)
        for logger in self.trackers:
            logger.log_metrics(flat, step=step)

    def log_pictures(self, paths: Iterable[Path]) -> None:
        for path in paths:
            for logger in self.trackers:
                _picture(logger, Path(path))

    def close(self, status: str = "success") -> None:
        for logger in self.trackers:
            logger.finalize(status)
            _end(logger, status)
        self.trackers = []


def numbers(values: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric leaves of nested `values`, keyed 'a/b/c': what every tracker takes as a metric."""
    out: dict[str, float] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(numbers(value, f"{name}/"))
        elif isinstance(value, bool):
            out[name] = float(value)
        elif isinstance(value, int | float) and math.isfinite(value):
            out[name] = float(value)
    return out


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
    made = {"wandb": _wandb, "mlflow": _mlflow, "dvclive": _dvclive}
    run = JobRun(name=name)
    try:
        for tool in spec.trackers:
            logger = made[tool](spec, where, group, name, tags)
            logger.log_hyperparams(params)
            run.trackers.append(logger)
    except BaseException:
        run.close("failed")
        raise
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


def _wandb(spec: TrackingSpec, where: Path, group: str, name: str, tags: dict[str, str]) -> Logger:
    import wandb
    from lightning.pytorch.loggers import WandbLogger

    mode = spec.wandb_mode
    if mode == "auto":
        mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
    logger = WandbLogger(
        project=spec.project,
        group=group,
        name=name,
        job_type=tags["job"],
        tags=[f"round_{tags['round']}"] if tags["round"] else [],
        save_dir=str(where),
        mode=mode,
        # the job's log already has what it prints; W&B need not copy it, nor the code
        settings=wandb.Settings(console="off", save_code=False, silent=True),
    )
    logger.experiment  # noqa: B018 - the run starts now, not at the first figure
    return logger


def _mlflow(spec: TrackingSpec, where: Path, group: str, name: str, tags: dict[str, str]) -> Logger:
    from filelock import FileLock
    from lightning.pytorch.loggers import MLFlowLogger

    local = spec.mlflow_uri is None
    logger = MLFlowLogger(
        experiment_name=spec.project,
        run_name=name,
        tracking_uri=f"sqlite:///{where / 'mlflow.db'}" if local else spec.mlflow_uri,
        tags=tags,
        artifact_location=(where / "mlflow-artifacts").as_uri() if local else None,
    )
    # two jobs starting together would both create the store's tables: one at a time
    with FileLock(where / "mlflow.lock") if local else _nothing():
        logger.experiment  # noqa: B018
        logger.run_id  # noqa: B018
    return logger


def _dvclive(spec: TrackingSpec, where: Path, group: str, name: str, tags: dict[str, str]) -> Logger:
    from dvclive.lightning import DVCLiveLogger

    folder = where / "dvclive" / group / name
    return DVCLiveLogger(
        run_name=name,
        dir=str(folder / "dvclive"),
        # its own dvc.yaml, beside (not in) its folder, where DVCLive keeps it free of repeats:
        # the project's dvc.yaml is not rewritten, and DVC finds this one
        dvcyaml=str(folder / "dvc.yaml"),
        save_dvc_exp=False,
        report=None,
    )


def _picture(logger: Logger, path: Path) -> None:
    kind = type(logger).__name__
    if kind == "WandbLogger":
        logger.log_image(key=path.stem, images=[str(path)])
    elif kind == "MLFlowLogger":
        logger.experiment.log_artifact(logger.run_id, str(path), "pictures")
    elif kind == "DVCLiveLogger":
        logger.experiment.log_image(path.name, str(path))


def _end(logger: Logger, status: str) -> None:
    kind = type(logger).__name__
    if kind == "WandbLogger":
        logger.experiment.finish(exit_code=0 if status == "success" else 1)
    elif kind == "DVCLiveLogger":
        logger.experiment.end()


@contextmanager
def _nothing() -> Iterator[None]:
    yield
