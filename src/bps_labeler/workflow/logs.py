"""Send a job's Python logging to its Snakemake log file; its errors and our warnings to the console too."""

from __future__ import annotations

import logging
import re
import sys
import traceback
from pathlib import Path
from types import TracebackType

from bps_labeler.errors import InputError
from bps_labeler.utils.files import NO_SPACE, disk_full


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


#: How Snakemake reports a job's process killed by a signal, then the rule it belonged to.
_KILLED = re.compile(r"died with <Signals\.SIGKILL: 9>")
_RULE = re.compile(r"^Error in rule (\w+):", re.MULTILINE)


def killed_jobs(run_log: str) -> list[str]:
    """The rules whose job was killed with SIGKILL, as a run's Snakemake log tells.

    A killed job cannot say anything itself: Snakemake only reports 'died with SIGKILL' and an
    empty log, which reads like a bug. Most often the kernel's out-of-memory killer did it.
    """
    rules = []
    for found in _KILLED.finditer(run_log):
        rule = _RULE.search(run_log, found.end())
        if rule and rule[1] not in rules:
            rules.append(rule[1])
    return rules


def explain_killed(run_logs: str | Path | list[str] | None) -> list[str]:
    """One line per killed rule: what most likely happened and what to do.

    `run_logs`: Snakemake's log file(s) of the run, as its `onerror` handler gets them.
    """
    paths = [run_logs] if isinstance(run_logs, (str, Path)) else list(run_logs or [])
    text = ""
    for path in paths:
        try:
            text += Path(path).read_text(errors="replace")
        except OSError:
            continue
    return [
        f"{rule} was killed (SIGKILL), most often by the out-of-memory killer: give the job more memory "
        "(on a cluster: set-resources in your profile) or make it smaller (a smaller batch_size), then "
        "rerun the same command; finished jobs are kept."
        for rule in killed_jobs(text)
    ]
