"""Placing files that one job made into another job's output without copying their bytes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


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
