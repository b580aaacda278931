"""Debian's Chromium for the report check: installed with apt-get when missing (as root, as in CI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from apt import apt_install

CHROMIUM = Path("/usr/bin/chromium")
PACKAGES = ["chromium"]
#: what a headless Chromium needs on a machine without a network or a display (docs/screenshot.py)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


class NoBrowser(RuntimeError):
    """Chromium is missing and cannot be installed here; the message says why."""


def chromium_or_skip() -> Path:
    """Chromium for a test: as root (CI) it must run, so a failure to install fails the test;
    elsewhere the test is skipped with the reason."""
    import pytest

    try:
        return chromium()
    except NoBrowser as err:
        if os.geteuid() == 0:
            pytest.fail(f"Chromium must run here (root) but: {err}")
        pytest.skip(str(err))


def chromium() -> Path:
    """The Chromium binary, installing Debian's package first when it is missing and we are root."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise NoBrowser(f"{CHROMIUM} is missing and installing Debian's chromium needs root and apt-get")
    error = apt_install(PACKAGES)
    if error:
        raise NoBrowser(f"apt-get install chromium failed: {error}")
    return CHROMIUM
