"""Snakemake's lock of a run that was killed: recognised, explained, and removed on request.

Snakemake locks the working folder while it runs and removes the lock when it stops; a kill -9
or a power loss leaves the lock behind, and the next run refuses to start. A lock is only stale
when no Snakemake process works in the folder any more, which on Linux the process table says:
every process whose command line names snakemake (the main process and its jobs' scripts under
.snakemake/scripts) and whose working folder is this one. Runs on other machines sharing the
folder are invisible from here, so the workflow only explains a stale lock while parsing (parsing
writes nothing); `bps-labeler unlock` removes it, refusing while a run here is alive.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bps_labeler.errors import InputError


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


def held_locks(workdir: Path) -> list[Path]:
    lock_dir = workdir / ".snakemake" / "locks"
    return sorted(lock_dir.glob("*.lock")) if lock_dir.is_dir() else []


def stale_locks(workdir: Path) -> list[Path]:
    """The lock files a killed run left in `workdir`: none while a Snakemake process works here."""
    locks = held_locks(workdir)
    if not locks or not Path("/proc/self/cwd").exists():
        return []
    if live_snakemake_pids(workdir, {os.getpid(), os.getppid()}):
        return []
    return locks


def unlock(workdir: Path) -> list[Path]:
    """Remove the locks a killed run left; refuse, naming the processes, while a run is alive."""
    locks = held_locks(workdir)
    alive = live_snakemake_pids(workdir, {os.getpid(), os.getppid()}) if locks else []
    if alive:
        raise InputError(
            f"{workdir}: a Snakemake run works in this folder (process {', '.join(map(str, alive))}); "
            "its lock is not stale. Wait for it to finish, or stop it first."
        )
    for lock in locks:
        lock.unlink(missing_ok=True)
    return locks


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
