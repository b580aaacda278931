"""Progress lines of long steps: a steady cadence, counts, rate and time left."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from bps_labeler.data.convert import Stretch, convert_shard
from bps_labeler.utils.epoch_progress import EpochProgress
from bps_labeler.utils.progress import Progress, duration


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_line_every_interval_and_at_the_end(caplog):
    clock = Clock()
    log = logging.getLogger("test.progress")
    p = Progress("convert shard 0", 1000, log, every_s=10, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.progress"):
        for _ in range(9):  # 100 images a second, 9 s: not yet
            clock.t += 1
            p.update(100)
        assert caplog.messages == []
        clock.t += 1
        p.update(50)  # 950 after 10 s
        assert caplog.messages == ["convert shard 0: 950 / 1000 images (95 %), 10 s, 95.0 images/s, about 1 s left"]
        clock.t += 0.5
        p.update(50)  # the end is always said
    assert caplog.messages[-1] == "convert shard 0: 1000 / 1000 images (100 %), 10 s, 95.2 images/s"


def test_durations_read_like_people_say_them():
    assert [duration(s) for s in (42, 185, 7800, -3)] == ["42 s", "3 min 05 s", "2 h 10 min", "0 s"]


def test_one_line_per_epoch_with_the_loss(caplog):
    clock = Clock()
    cb = EpochProgress("SimCLR on 500 images", logging.getLogger("test.epochs"), clock=clock)
    trainer = SimpleNamespace(max_epochs=4, callback_metrics={"train_loss": 2.5})
    with caplog.at_level(logging.INFO, logger="test.epochs"):
        cb.on_train_start(trainer, None)
        for _ in range(2):
            clock.t += 30
            cb.on_train_epoch_end(trainer, None)
    assert caplog.messages == [
        "SimCLR on 500 images: 1 / 4 epochs (25 %), 30 s, 30.0 s each, about 1 min 30 s left, loss 2.5000",
        "SimCLR on 500 images: 2 / 4 epochs (50 %), 60 s, 30.0 s each, about 60 s left, loss 2.5000",
    ]


def test_conversion_logs_its_progress(tiny_dataset, tmp_path, caplog):
    raw, _, meta = tiny_dataset
    with caplog.at_level(logging.INFO, logger="bps_labeler.data.convert"):
        rows = convert_shard(meta, 0, 1, raw, tmp_path / "jpg", Stretch())
    assert caplog.messages[-1].startswith(f"convert shard 0: {len(rows)} / {len(rows)} images (100 %)")
