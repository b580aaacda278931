"""Send a job's Python logging to its Snakemake log file; its errors and our warnings to the console too."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from types import TracebackType

from bps_labeler.errors import InputError
from bps_labeler.files import NO_SPACE, disk_full


def to_file(path: str | Path) -> None:
    """Log to the rule's `log:` file; bad-input errors print as one clear line, not a traceback.

    A user who fed a bad meta.csv needs the file, row and fix, which InputError's message holds;
    the log names the line that raised it. Any other error keeps its whole traceback, in the log
    and on the console: that one is ours to debug.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.captureWarnings(True)
    # httpx logs every request at INFO, and the Label Studio SDK's pager ends each listing on a
    # 404 for the page past the end: a line that reads like an error at every poll
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # our own warnings (a threshold dropping most of the pool, ...) also reach the console, where
    # a user sees them without opening the log; the libraries' deprecation noise stays in the file
    console = logging.StreamHandler(sys.stderr)
    console.addFilter(lambda record: record.levelno == logging.WARNING)  # errors: the hook below
    console.setFormatter(logging.Formatter("WARNING: %(message)s"))
    ours = logging.getLogger("bps_labeler")
    ours.handlers = [console]

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:  # a full disk is not our bug
            exc = disk_full(exc.filename)
        if isinstance(exc, KeyboardInterrupt):
            # Ctrl-C reaches every job Snakemake runs: a stop asked for, not a failure to debug
            logging.getLogger("bps_labeler").info("interrupted (Ctrl-C); nothing of this job was kept")
            print(
                "Interrupted (Ctrl-C): this job's output is removed, finished jobs and people's labels "
                "are kept. Run the same command again to resume.",
                file=sys.stderr,
            )
            return
        if isinstance(exc, InputError):
            # Snakemake prints a failed job's log on the console: a user's mistake gets its
            # message and where the code said it, not a traceback that buries the message
            where = traceback.extract_tb(tb)[-1] if tb else None
            at = f" (raised at {Path(where.filename).name}:{where.lineno})" if where else ""
            logging.getLogger("bps_labeler").error("%s%s", exc, at)
            print(f"ERROR: {exc}", file=sys.stderr)
        else:
            logging.getLogger("bps_labeler").error("failed", exc_info=(kind, exc, tb))
            sys.__excepthook__(kind, exc, tb)

    sys.excepthook = hook
