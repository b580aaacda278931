"""Debian packages the tests need, installed with apt-get when missing (as root, as in CI)."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

#: Two test workers may install at once (Chromium for the report, SLURM for the cluster); dpkg
#: takes one at a time and the second failed at once on its lock. They queue on this file, and
#: on dpkg's own lock (up to 15 minutes) against any other apt-get on the machine.
LOCK = Path("/tmp/bps-labeler-tests-apt.lock")
WAIT = ["-o", "DPkg::Lock::Timeout=900"]


def apt_install(packages: list[str]) -> str | None:
    """Install `packages`: None when they are installed, else the end of apt-get's error."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", *WAIT, "install", "-y", "-q", "--no-install-recommends", *packages]
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode == 0:
            return None
        # a fresh machine has no package lists yet
        subprocess.run(["apt-get", *WAIT, "update", "-q"], env=env, capture_output=True, check=False)
        proc = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    return None if proc.returncode == 0 else proc.stderr[-2000:]
