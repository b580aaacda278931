"""Progress lines for long steps, so that `tail -f` on a job's log says how far along it is.

A line at most every `every_s` seconds (and one at the end), with the count, the share, the rate
and the time left at that rate: a steady cadence whatever the size of the job, never one line per
image.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


def duration(seconds: float) -> str:
    """Seconds as people read them: 42 s, 3 min 05 s, 2 h 10 min."""
    seconds = max(0, int(round(seconds)))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Counts work done towards `total` and logs `what: done / total (share), rate, time left`."""

    def __init__(
        self,
        what: str,
        total: int,
        logger: logging.Logger,
        unit: str = "images",
        every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self.total, self.log, self.unit, self.every_s, self.clock = what, total, logger, unit, every_s, clock
        self.done = 0
        self.start = self.last = clock()

    def line(self) -> str:
        elapsed = self.clock() - self.start
        share = f" ({100 * self.done / self.total:.0f} %)" if self.total else ""
        text = f"{self.what}: {self.done} / {self.total} {self.unit}{share}, {duration(elapsed)}"
        if self.done and elapsed > 0:
            rate = self.done / elapsed
            text += f", {rate:.1f} {self.unit}/s" if rate >= 1 else f", {1 / rate:.1f} s each"
            if self.done < self.total:
                text += f", about {duration((self.total - self.done) / rate)} left"
        return text

    def update(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if self.done >= self.total or now - self.last >= self.every_s:
            self.last = now
            self.log.info(self.line())
