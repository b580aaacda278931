"""People's labels and every round's results versioned with DVC, restored in a fresh clone.

Design: Snakemake is the pipeline; DVC only stores and restores its files (`dvc add` of
`resources/` and `results/`), so the pipeline is described once. Why not DVC stages calling
Snakemake per round: the stages would repeat every rule's inputs and outputs (or hide them in one
opaque stage), and two tools would decide what is out of date. People's labels, the label store
`annotations/`, stay in git: a few kilobytes of JSON a round, which git diffs and reviews, and which
every clone carries even when the DVC remote is lost; `save` stages them beside the .dvc files.

DVC restores files with new modification times, and Snakemake reruns a job whose inputs are newer
than its outputs; `restore` therefore marks the restored outputs as up to date with
`snakemake --touch`, in the DAG's order, after checking that the pull brought back what the
commit names. Nothing changed by hand is overwritten: a tracked file edited here (a round's
annotations.json, say) stops the pull (DVC refuses to remove unsaved files), and the message says
how to keep it.

    python -m bps_labeler.workflow.versioning save       # dvc add + dvc push; then git commit the .dvc files
    python -m bps_labeler.workflow.versioning restore    # dvc pull + snakemake --touch: nothing to recompute
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from bps_labeler.errors import InputError, exit_status

#: What DVC tracks: the inputs and every round's results (the label store is in git).
TRACKED = ("resources", "results")
STORE = "annotations"


def _dvc() -> str:
    exe = Path(sys.executable).with_name("dvc")
    return str(exe) if exe.exists() else "dvc"


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


def _explain(action: str, proc: subprocess.CompletedProcess, repo: Path) -> InputError:
    """A DVC failure as one message that says what to do next."""
    out = proc.stdout + proc.stderr
    if "No remote provided and no default remote set" in out or "no remote specified" in out.lower():
        return InputError(
            f"dvc {action}: no DVC remote is set in {repo / '.dvc' / 'config'}. Add one: "
            "dvc remote add -d shared /path/to/shared/folder (or s3://bucket/prefix); "
            "README, 'Versioned results with DVC'."
        )
    if "Unable to locate credentials" in out or "NoCredentialsError" in out or "InvalidAccessKeyId" in out:
        return InputError(
            f"dvc {action}: the S3 remote refused the request: no valid credentials. Set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (never in "
            ".dvc/config) and try again."
        )
    if "unsaved files without confirmation" in out:
        changed = [line.strip() for line in out.splitlines() if line.strip().startswith(str(repo))]
        return InputError(
            f"dvc {action}: these tracked files were changed here and differ from the commit: "
            f"{changed or out.strip()[-500:]}. Nothing was overwritten. To keep them, save them "
            "(python -m bps_labeler.workflow.versioning save) and commit the .dvc files; to drop them, "
            "move them away and restore again."
        )
    if "does not exist" in out and ("remote" in out.lower() or "bucket" in out.lower()):
        return InputError(
            f"dvc {action}: the DVC remote does not exist: {out.strip()[-400:]}. Create it "
            "(dvc-s3 does not create buckets) or fix its URL with dvc remote modify."
        )
    return InputError(f"dvc {action} failed: {out.strip()[-1500:]}")


def tracked(repo: Path) -> list[str]:
    """The tracked folders that exist here (a fresh project has no label store yet)."""
    return [name for name in TRACKED if (repo / name).exists()]


def save(repo: Path, push: bool = True) -> list[str]:
    """Record the current labels and results in DVC and push them; returns the .dvc files to commit."""
    names = tracked(repo)
    if not names:
        raise InputError(f"{repo}: nothing to save: neither of {', '.join(TRACKED)} exists yet. Run a round first.")
    proc = _run([_dvc(), "add", *names], repo)
    if proc.returncode:
        raise _explain("add", proc, repo)
    if push:
        proc = _run([_dvc(), "push"], repo)
        if proc.returncode:
            raise _explain("push", proc, repo)
    files = [f"{name}.dvc" for name in names]
    if (repo / STORE).exists():
        _run(["git", "add", STORE], repo)
        files.append(STORE)
    return files


def restore(repo: Path, targets: list[str], snakemake: str | None = None) -> None:
    """Pull the commit's labels and results and make Snakemake see them as up to date."""
    proc = _run([_dvc(), "pull"], repo)
    if proc.returncode:
        raise _explain("pull", proc, repo)
    missing = [t for t in targets if not (repo / t).exists()]
    if missing:
        raise InputError(
            f"after dvc pull, {missing} are still missing: the commit's .dvc files do not hold "
            "them. Run the rounds (snakemake) or check out the commit that saved them."
        )
    exe = snakemake or str(Path(sys.executable).with_name("snakemake"))
    # --touch walks the DAG in order: every restored output ends up newer than its inputs
    proc = _run([exe, "--touch", "--cores", "1", *targets], repo)
    if proc.returncode:
        raise InputError(f"snakemake --touch after dvc pull failed: {(proc.stdout + proc.stderr).strip()[-1500:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["save", "restore"])
    parser.add_argument(
        "targets",
        nargs="*",
        default=[],
        help="restore: the targets that must be up to date afterwards (default: snakemake's)",
    )
    parser.add_argument("--repo", type=Path, default=Path.cwd())
    parser.add_argument("--no-push", action="store_true", help="save: dvc add only")
    args = parser.parse_args(argv)

    def action() -> None:
        if not args.repo.is_dir():
            raise InputError(f"--repo {args.repo}: no such folder; name the repository the run works in.")
        if args.action == "save":
            files = save(args.repo, push=not args.no_push)
            print(
                f"Saved{'' if args.no_push else ' and pushed'}. Commit: git add {' '.join(files)} .gitignore "
                "&& git commit"
            )
        else:
            restore(args.repo, args.targets)
            print(f"Restored; {', '.join(args.targets) or 'the default target'} up to date.")

    return exit_status(action)


if __name__ == "__main__":
    sys.exit(main())
