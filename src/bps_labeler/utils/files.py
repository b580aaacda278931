"""Placing files that one job made into another job's output without copying their bytes, and
writing files so that a full disk is said as such."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from bps_labeler.errors import InputError

#: Below this much free space, a failed write is taken for a full disk.
NEARLY_FULL = 1 << 20

#: What a write fails with when no space is left: on the disk, or in the user's quota on it
#: (clusters set quotas on home and project folders).
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def disk_full(path: str | os.PathLike[str] | None) -> InputError:
    """The one sentence for a full disk, naming the file being written where it is known.

    A full disk is not a bug to debug but a machine to tidy, and every step already finished
    stays: the rerun starts where this one stopped.
    """
    where = ""
    if path is not None:
        path = Path(os.fsdecode(path))
        where = f"{path.parent}: " if str(path.parent) != "." else ""
        where += f"the disk is full (writing {path.name})"
    return InputError(
        f"{where or 'the disk is full'}. Free some space (or ask for a larger quota), or run in a "
        "folder on a larger disk, then run again: finished steps are kept."
    )


def write_or_explain(path: Path, write: Callable[[Path], None]) -> None:
    """Run `write(path)`; a full disk stops with one line naming the file.

    PyTorch reports a full disk as "[enforce fail at inline_container.cc] unexpected pos 576 vs
    534", which tells a user nothing; the half-written file is removed so nothing looks whole.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write(path)
    except (OSError, RuntimeError) as exc:
        if getattr(exc, "errno", None) not in NO_SPACE and shutil.disk_usage(path.parent).free >= NEARLY_FULL:
            raise
        path.unlink(missing_ok=True)
        raise disk_full(path) from None


def write_new(path: str | os.PathLike[str], data: bytes | memoryview) -> None:
    """Write `data` as a new file at `path`; a full disk stops with one line naming it, and no
    part of the file stays.

    Not atomic: there is no temporary name and rename (they cost a conversion as much as its
    quality measures), so a job killed while writing leaves a half file. The caller's output
    must therefore be a folder that is discarded when the job fails, as Snakemake discards a
    failed or killed job's outputs before it runs the job again; convert writes its shard's
    manifest, a separate output, only after every JPG. A file already at `path` is unlinked, not
    written through: converted JPGs are hard-linked into the image folder, and writing through
    the old name would change that copy too.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags, 0o666)
    except FileExistsError:
        os.unlink(path)
        fd = os.open(path, flags, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)  # network file systems may report a full disk only here
    except OSError as exc:
        os.unlink(path)
        if exc.errno in NO_SPACE:
            raise disk_full(path) from None
        raise


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


def sha256_file(path: Path) -> str:
    """The file's sha256, read a megabyte at a time (images and models alike)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
