"""The real `snakemake` on the tiny config: helpers shared by the workflow tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
BPS_LABELER = str(Path(sys.executable).with_name("bps-labeler"))


def tiny_config() -> dict:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["source"]["synthetic"]["n_images"] = 680
    cfg["filter"] = {"particle_types": ["Fe", "X-ray"], "dose_min": 0.8}  # 6 conditions, 240 images
    cfg["convert"]["shards"] = 3
    cfg["split"] = {"val_fraction": 0.2}  # replaces the default val_size
    cfg["embed"].update(input_size=32, epochs=1, batch_size=64, dim=16)
    cfg["train"].update(epochs=2, batch_size=8)
    for sel in cfg["selection"]:
        sel["n_samples"] = 20
    return cfg


@contextmanager
def module_folder(factory, request, name: str) -> Iterator[Path]:
    """A module fixture's folder, removed after the module's tests unless one of them failed.

    pytest removes a passed test's `tmp_path` at once (tmp_path_retention_policy) but keeps
    `tmp_path_factory` folders to the end of the session; copies of the tiny run kept that long
    filled the disk CI shares with other jobs.
    """
    path = factory.mktemp(name)
    failed = request.session.testsfailed
    yield path
    if request.session.testsfailed == failed:
        shutil.rmtree(path, ignore_errors=True)


def make_workdir(path: Path, cfg: dict) -> Path:
    (path / "config").mkdir(parents=True)
    (path / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def snakemake(
    workdir: Path, *args: str, check: bool = True, cores: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    cmd = [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "workflow" / "Snakefile"),
        "--directory",
        str(workdir),
        *(["--cores", "2"] if cores else []),
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1500, env=env, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def unlock_killed_run(workdir: Path, target: str = "results/round_2/model.ckpt") -> None:
    """What a user does after a killed run: the next run is refused and names the command, which
    removes the lock; parsing the workflow never removes it."""
    refused = snakemake(workdir, target, check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "lock of a run that was killed" in said and "bps-labeler unlock" in said, said
    done = subprocess.run([BPS_LABELER, "unlock", "-d", str(workdir)], capture_output=True, text=True, check=True)
    assert "removed" in done.stdout, done.stdout


#: Snakemake's own bookkeeping, which any run writes: what a test of "writes nothing" leaves out.
BOOKKEEPING = (".snakemake/log/", ".snakemake/iocache/")


def snapshot(workdir: Path) -> dict[str, bytes]:
    """Every file of a working folder and its bytes, but Snakemake's own logs and caches."""
    return {
        p.relative_to(workdir).as_posix(): p.read_bytes()
        for p in sorted(workdir.rglob("*"))
        if p.is_file() and not p.is_symlink() and not p.relative_to(workdir).as_posix().startswith(BOOKKEEPING)
    }


def only_look(workdir: Path, target: str) -> None:
    """`snakemake -n`, `--lint` and `--summary`, which must leave every file as it was."""
    before = snapshot(workdir)
    for args in (("-n", target), ("--lint",), ("--summary", target)):
        snakemake(workdir, *args)  # each must work: a parse that fails writes nothing either
    after = snapshot(workdir)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"looking at the run changed {changed[:10]}"
