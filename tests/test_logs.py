import logging
import sys

import pytest

from bps_labeler.errors import InputError
from bps_labeler.workflow import logs


@pytest.fixture
def job_log(tmp_path, monkeypatch):
    """Where a test's `logs.to_file` writes; the loggers and the excepthook are put back after."""
    for logger in (logging.getLogger("bps_labeler"), logging.getLogger()):
        monkeypatch.setattr(logger, "handlers", list(logger.handlers))
        monkeypatch.setattr(logger, "level", logger.level)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    return tmp_path / "rule.log"


def test_our_warnings_reach_the_console_and_the_log(job_log, capsys):
    logs.to_file(job_log)
    logging.getLogger("bps_labeler.selection.engine").warning("threshold leaves out 75 of 100")
    logging.getLogger("bps_labeler.selection.engine").info("threshold leaves out 5 of 100")
    logging.getLogger("lightning").warning("deprecated thing")
    for h in logging.getLogger().handlers:
        h.flush()
    err = capsys.readouterr().err
    assert "WARNING: threshold leaves out 75 of 100" in err
    assert "out 5 of" not in err and "deprecated" not in err  # info and other libraries stay in the file
    text = job_log.read_text()
    assert "out 75 of 100" in text and "out 5 of 100" in text and "deprecated thing" in text


def test_a_users_mistake_is_one_line_on_the_console_and_in_the_log(job_log, capsys):
    """Snakemake prints a failed job's log: a traceback there would bury the message."""
    logs.to_file(job_log)
    try:
        raise InputError("meta.csv, row 7: dose_Gy is 'abc', not a number.")
    except InputError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    try:
        raise ZeroDivisionError("a bug of ours")
    except ZeroDivisionError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    for h in logging.getLogger().handlers:
        h.flush()
    err = capsys.readouterr().err
    assert "ERROR: meta.csv, row 7: dose_Gy is 'abc', not a number." in err
    text = job_log.read_text()
    mistake, bug = text.split("bps_labeler: failed", 1)
    assert "row 7: dose_Gy is 'abc', not a number. (raised at test_logs.py:" in mistake
    assert mistake.count("Traceback") == 0  # the user's mistake: its line, no traceback
    assert "Traceback" in bug and "a bug of ours" in bug  # our bug: the whole traceback


def test_a_full_disk_anywhere_is_one_line(job_log, capsys):
    logs.to_file(job_log)
    import errno

    try:
        raise OSError(errno.ENOSPC, "No space left on device", "results/embeddings/embeddings.csv")
    except OSError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "ERROR: results/embeddings: the disk is full (writing embeddings.csv). Free some space" in err
    assert "Traceback" not in err


def test_ctrl_c_in_a_job_is_one_line_not_a_traceback(job_log, capsys):
    """Issue 24: a Ctrl-C as a job started printed a KeyboardInterrupt traceback that read like a failure."""
    logs.to_file(job_log)
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    for h in logging.getLogger().handlers:
        h.flush()
    err = capsys.readouterr().err
    assert err == (
        "Interrupted (Ctrl-C): this job's output is removed, finished jobs and people's labels are kept. "
        "Run the same command again to resume.\n"
    )
    assert "interrupted (Ctrl-C)" in job_log.read_text() and "Traceback" not in job_log.read_text()
