import logging
import sys

from bps_labeler import logs


def test_our_warnings_reach_the_console_and_the_log(tmp_path, capsys, monkeypatch):
    for logger in (logging.getLogger("bps_labeler"), logging.getLogger()):  # put back after the test
        monkeypatch.setattr(logger, "handlers", list(logger.handlers))
        monkeypatch.setattr(logger, "level", logger.level)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    logs.to_file(tmp_path / "rule.log")
    logging.getLogger("bps_labeler.selection").warning("threshold leaves out 75 of 100")
    logging.getLogger("bps_labeler.selection").info("threshold leaves out 5 of 100")
    logging.getLogger("lightning").warning("deprecated thing")
    for h in logging.getLogger().handlers:
        h.flush()
    err = capsys.readouterr().err
    assert "WARNING: threshold leaves out 75 of 100" in err
    assert "out 5 of" not in err and "deprecated" not in err  # info and other libraries stay in the file
    text = (tmp_path / "rule.log").read_text()
    assert "out 75 of 100" in text and "out 5 of 100" in text and "deprecated thing" in text
