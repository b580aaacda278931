"""A run killed with kill -9 inside each long rule, then a plain rerun: same results, nothing lost.

Snakemake leaves its lock behind when killed; the workflow recognises a lock no live Snakemake
process holds and names the command that removes it (`bps-labeler unlock`; parsing removes
nothing), while a second run started beside a live one still gets Snakemake's refusal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from workflows import REPO, SNAKEMAKE, make_workdir, snakemake, tiny_config, unlock_killed_run

pytestmark = pytest.mark.workflow


def start(workdir: Path, log: Path) -> subprocess.Popen:
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--cores", "2", "results/round_2/model.ckpt"]
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float = 600) -> None:
    end = time.monotonic() + timeout
    while text not in log.read_text():
        if proc.poll() is not None or time.monotonic() > end:
            raise AssertionError(f"{text!r} never appeared:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def test_kill_9_inside_each_long_rule_then_a_plain_rerun(tiny_run, tmp_path):
    workdir = make_workdir(tmp_path / "wf", tiny_config())
    for n, rule in enumerate(("rule convert:", "rule embed:", "job of rule train:", "rule train:")):
        log = tmp_path / f"run{n}.log"
        proc = start(workdir, log)
        wait_for(log, rule.removeprefix("job of "), proc)
        time.sleep(2)  # inside the job, its outputs half made
        if rule.startswith("job of"):
            # the job alone killed, as the out-of-memory killer does: Snakemake stops, and says why
            job = subprocess.run(["pgrep", "-s", str(proc.pid), "-f", r"scripts/tmp.*\.train\.py"], capture_output=True)
            os.kill(int(job.stdout.split()[0]), signal.SIGKILL)
            assert proc.wait(timeout=120) != 0
            said = log.read_text()
            assert (
                "train was killed (SIGKILL), most often by the out-of-memory killer: give the job more memory "
                "(on a cluster: set-resources in your profile) or make it smaller (a smaller batch_size), "
                "then rerun the same command; finished jobs are kept." in said
            ), said[-3000:]
            continue
        if rule == "rule embed:":
            # a second run beside a live one is refused by Snakemake, and the live run's lock kept
            second = snakemake(workdir, "results/round_2/model.ckpt", check=False)
            assert second.returncode != 0 and "Directory cannot be locked" in second.stdout + second.stderr
            assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert list((workdir / ".snakemake" / "locks").glob("*.lock")), "the killed run left no lock?"
        unlock_killed_run(workdir)

    snakemake(workdir, "results/round_2/model.ckpt")
    for f in ("results/round_1/selection.json", "results/round_2/selection.json", "results/round_2/metrics.json"):
        assert (workdir / f).read_bytes() == (tiny_run / f).read_bytes(), f
    assert "Nothing to be done" in snakemake(workdir, "-n", "results/round_2/model.ckpt").stdout
