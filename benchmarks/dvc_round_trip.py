"""Time and size of saving a finished run to a DVC remote and restoring it in a fresh clone.

Takes this checkout's `results/` and `resources/` (run `make run` first), copies them into a git
clone of the project's committed state, saves them to a local-folder remote
(`bps_labeler.workflow.versioning save`: dvc add + dvc push), clones that again and restores
(`restore`: dvc pull + snakemake --touch), then checks that `snakemake -n` has nothing to do.
Prints each step's wall time and the remote's size and file count.

    .venv/bin/python benchmarks/dvc_round_trip.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@example.org",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@example.org",
}


def sh(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{cmd} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t


def size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def main() -> None:
    for name in ("results", "resources"):
        if not (REPO / name).exists():
            raise SystemExit(f"{REPO / name} is missing: run `make run` first")
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        a, b, remote = tmp / "a", tmp / "b", tmp / "remote"
        sh(["git", "clone", "--quiet", str(REPO), str(a)], tmp)
        for name in ("results", "resources"):
            shutil.copytree(REPO / name, a / name)
        sh([str(Path(py).with_name("dvc")), "remote", "add", "--force", "--default", "bench", str(remote)], a)
        t_save = sh([py, "-m", "bps_labeler.workflow.versioning", "save"], a)
        sh(["git", "add", "-A"], a)
        sh(["git", "commit", "--quiet", "-m", "saved"], a)
        sh(["git", "clone", "--quiet", str(a), str(b)], tmp)
        t_restore = sh([py, "-m", "bps_labeler.workflow.versioning", "restore"], b)
        proc = subprocess.run(
            [str(Path(py).with_name("snakemake")), "-n", "--cores", "1"],
            cwd=b,
            env=ENV,
            capture_output=True,
            text=True,
            check=False,
        )
        nothing = "Nothing to be done" in proc.stdout + proc.stderr
        nbytes, nfiles = size(remote)
        rbytes, rfiles = size(a / "results")
        sbytes, sfiles = size(a / "resources")
        print(f"results/: {rbytes / 1e6:.1f} MB in {rfiles} files; resources/: {sbytes / 1e6:.1f} MB in {sfiles} files")
        print(
            f"save (dvc add + dvc push to a local folder): {t_save:.1f} s; remote holds {nbytes / 1e6:.1f} MB "
            f"in {nfiles} files"
        )
        print(f"restore in a fresh clone (dvc pull + snakemake --touch): {t_restore:.1f} s")
        print(f"snakemake -n afterwards: {'nothing to be done' if nothing else 'WOULD RERUN: ' + proc.stdout[-500:]}")


if __name__ == "__main__":
    main()
