"""Placing files that one job made into another job's output without copying their bytes, and
writing model files so that a full disk is said as such."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from bps_labeler.errors import InputError

#: Below this much free space, a failed write is taken for a full disk.
NEARLY_FULL = 1 << 20


def write_or_explain(path: Path, write: Callable[[Path], None]) -> None:
    """Run `write(path)`; a full disk stops with one line naming the file.

    PyTorch reports a full disk as "[enforce fail at inline_container.cc] unexpected pos 576 vs
    534", which tells a user nothing; the half-written file is removed so nothing looks whole.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write(path)
    except (OSError, RuntimeError) as exc:
        if getattr(exc, "errno", None) != errno.ENOSPC and shutil.disk_usage(path.parent).free >= NEARLY_FULL:
            raise
        path.unlink(missing_ok=True)
        raise InputError(
            f"{path.parent}: the disk is full (writing {path.name}). Free some space, or run in a "
            "folder on a larger disk, then run again: finished steps are kept."
        ) from None


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link `src` to `dst`, or copy it where links cannot be made.

    Snakemake deletes a job's outputs before it runs, so files worth keeping across reruns (the
    download cache) or made by other jobs (the converted shards) are linked into the output
    folder: no second copy on disk, and each output is still a plain folder that remote storage
    can upload. Links fail across file systems and on some network mounts; a copy is then the
    only way.
    """
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
