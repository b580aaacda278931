"""Send a job's Python logging to its Snakemake log file, and its errors to both log and console."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import TracebackType

from bps_labeler.errors import InputError


def to_file(path: str | Path) -> None:
    """Log to the rule's `log:` file; bad-input errors print as one clear line, not a traceback.

    A user who fed a bad meta.csv needs the file, row and fix, which InputError's message holds;
    the traceback still goes to the log for whoever debugs the code.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.captureWarnings(True)

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        logging.getLogger("bps_labeler").error("failed", exc_info=(kind, exc, tb))
        if isinstance(exc, InputError):
            print(f"ERROR: {exc}", file=sys.stderr)
        else:
            sys.__excepthook__(kind, exc, tb)

    sys.excepthook = hook
