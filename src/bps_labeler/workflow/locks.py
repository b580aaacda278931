"""Snakemake's lock of a run that was killed, recognised and removed, so a plain rerun resumes.

Snakemake locks the working folder while it runs and removes the lock when it stops; a kill -9
or a power loss leaves the lock behind, and the next run refuses to start until someone runs
`snakemake --unlock`. A lock is only stale when no Snakemake process works in the folder any
more, which on Linux the process table says: every process whose command line names snakemake
(the main process and its jobs' scripts under .snakemake/scripts) and whose working folder is
this one. Runs on other machines sharing the folder are invisible from here, so the check is
made only where the lock was taken on this machine (recorded beside the lock).
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

#: Where this project records which machine took the folder's lock.
HOST_FILE = "bps-lock-host"


def live_snakemake_pids(workdir: Path, exclude: set[int]) -> list[int]:
    """Processes other than `exclude` running Snakemake (or its jobs) with `workdir` as their folder."""
    here = os.path.realpath(workdir)
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            cwd = os.readlink(entry / "cwd")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if b"snakemake" in cmdline and os.path.realpath(cwd) == here:
            pids.append(int(entry.name))
    return pids


def stale_locks(workdir: Path) -> list[Path]:
    """The lock files a killed run on this machine left in `workdir` (none if a run is alive)."""
    lock_dir = workdir / ".snakemake" / "locks"
    locks = sorted(lock_dir.glob("*.lock")) if lock_dir.is_dir() else []
    if not locks or not Path("/proc/self/cwd").exists():
        return []
    host = workdir / ".snakemake" / HOST_FILE
    if not host.is_file() or host.read_text().strip() != socket.gethostname():
        return []  # taken elsewhere (a shared folder) or by a run that predates this check
    if live_snakemake_pids(workdir, {os.getpid(), os.getppid()}):
        return []
    return locks


def take_over(workdir: Path) -> list[Path]:
    """Remove stale locks; record this machine as the one about to lock; return what was removed.

    A folder some live run holds is left alone, record and all: Snakemake then refuses to start
    with its own message.
    """
    lock_dir = workdir / ".snakemake" / "locks"
    held = sorted(lock_dir.glob("*.lock")) if lock_dir.is_dir() else []
    removed = stale_locks(workdir)
    if held and len(removed) < len(held):
        return []
    for lock in removed:
        lock.unlink(missing_ok=True)
    record = workdir / ".snakemake" / HOST_FILE
    here = socket.gethostname() + "\n"
    if not record.is_file() or record.read_text() != here:
        record.parent.mkdir(exist_ok=True)
        record.write_text(here)
    return removed


#: Snakemake options that only look at a run: no lock is taken, so none needs taking over.
LOOKING = {
    "--dry-run", "--dryrun", "--lint", "--summary", "--detailed-summary", "--list-rules",
    "--list-target-rules", "--dag", "--rulegraph", "--filegraph", "--d3dag", "--list-changes",
    "--list-code-changes", "--list-input-changes", "--list-params-changes", "--list-untracked",
}  # fmt: skip


def only_looks(argv: list[str]) -> bool:
    """Whether a Snakemake command line only looks (a dry run, --lint, --summary, ...): such a
    run must write nothing, not even the record of who takes the lock. Short flags may come
    together (`-np`)."""
    for arg in argv[1:]:
        name = arg.split("=", 1)[0]
        if name in LOOKING or name in ("-n", "-S", "-D", "-l"):
            return True
        if re.fullmatch(r"-[A-Za-z]+", arg) and "n" in arg:
            return True
    return False
