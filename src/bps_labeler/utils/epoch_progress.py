"""A progress line per epoch of a Lightning fit (SimCLR, fine-tuning), in the job's log, and the
one quiet, deterministic Trainer both fits use.

Apart from bps_labeler.utils.progress so that jobs without a network (downloads, conversion) do not
import Lightning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import CSVLogger, Logger

from bps_labeler.utils.progress import Progress


class EpochProgress(L.Callback):
    """A progress line per epoch of a Lightning fit: epoch, loss, elapsed and time left."""

    def __init__(self, what: str, logger: logging.Logger, clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.out, self.clock = what, logger, clock
        self.progress: Progress | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # every_s=0: one line per epoch, however short
        self.progress = Progress(self.what, trainer.max_epochs or 0, self.out, "epochs", 0.0, self.clock)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        assert self.progress is not None
        loss = trainer.callback_metrics.get("train_loss")
        self.progress.done += 1
        suffix = f", loss {float(loss):.4f}" if loss is not None else ""
        self.out.info(self.progress.line() + suffix)


def quiet_trainer(
    epochs: int,
    accelerator: str,
    log_dir: Path | None,
    what: str,
    log: logging.Logger,
    trackers: Sequence[Logger] = (),
    precision: str = "32-true",
) -> L.Trainer:
    """A deterministic Trainer on one device that writes only its metrics CSV (under `log_dir`),
    the `trackers`' runs (W&B, MLflow, DVCLive: bps_labeler.workflow.tracking) and a progress
    line per epoch: no checkpoints, bars or summaries in a job's log."""
    loggers = ([CSVLogger(log_dir, name="", version="")] if log_dir else []) + list(trackers)
    return L.Trainer(
        max_epochs=epochs,
        accelerator=accelerator,
        devices=1,
        deterministic=True,
        precision=precision,
        logger=loggers or False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[EpochProgress(what, log)],
    )
