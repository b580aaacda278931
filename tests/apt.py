"""Debian packages the tests need, installed with apt-get when missing (as root, as in CI)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
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


def missing(packages: list[str]) -> list[str]:
    """The packages dpkg does not have installed."""
    out = []
    for package in packages:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
        ).stdout
        if not status.endswith(" installed"):
            out.append(package)
    return out


def install_in_background(packages: list[str], log: Path) -> subprocess.Popen | None:
    """Start installing the missing `packages` now, for the tests that need them later.

    On a fresh machine (CI) the apt-get installs took minutes, and a test worker that reached the
    SLURM or the browser test sat in them while its tests waited. Started with the session they
    download and unpack while the first tests run; a worker that needs them queues on LOCK and
    then finds them installed. None where nothing is missing or this is not root with apt-get.
    """
    if os.geteuid() != 0 or not shutil.which("apt-get") or not shutil.which("dpkg-query"):
        return None
    todo = missing(packages)
    if not todo:
        return None
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, __file__, *todo], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


if __name__ == "__main__":
    error = apt_install(sys.argv[1:])
    print(error or f"installed {' '.join(sys.argv[1:])}")
    sys.exit(1 if error else 0)
