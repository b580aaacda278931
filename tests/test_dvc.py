"""DVC round trip with the real `dvc`: save a run's labels and results, clone, restore, nothing to do.

Remotes: a local folder and the moto S3 server on 127.0.0.1 (bucket created first: dvc-s3 does not).
The project under test is a git clone of this repository's committed state, as a colleague gets it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml
from workflows import REPO, SNAKEMAKE, tiny_config

pytestmark = pytest.mark.workflow

DVC = str(Path(sys.executable).with_name("dvc"))
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def run(
    cmd: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **GIT_ENV, **(env or {})}
    )
    if check and proc.returncode:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def versioning(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "bps_labeler.workflow.versioning", *args], repo, check=False, env=env)


def project_with_results(tmp_path: Path, tiny_run: Path, remote: list[list[str]]) -> Path:
    """A clone of the project with the tiny run's results, saved to `remote`.

    The tiny run's labels are the oracle's, so the label store (in git, not DVC) holds only its
    README; people's exports there travel with git like any committed file.
    """
    a = tmp_path / "a"
    run(["git", "clone", "--quiet", str(REPO), str(a)], tmp_path)
    (a / "config" / "config.yaml").write_text(yaml.safe_dump(tiny_config(), sort_keys=False))
    for name in ("results", "resources"):
        shutil.copytree(tiny_run / name, a / name)  # copy2 keeps modification times
    for cmd in remote:
        run([DVC, *cmd], a)
    saved = versioning(a, "save")
    assert saved.returncode == 0, saved.stderr
    assert "git add resources.dvc results.dvc annotations" in saved.stdout
    run(["git", "add", "-A"], a)
    run(["git", "commit", "--quiet", "-m", "round 2 and its labels"], a)
    return a


def check_round_trip(a: Path, tmp_path: Path, env: dict[str, str] | None = None) -> Path:
    b = tmp_path / "b"
    run(["git", "clone", "--quiet", str(a), str(b)], tmp_path)
    assert not (b / "results").exists() and not (b / "resources").exists()
    restored = versioning(b, "restore", "results/round_2/model.ckpt", env=env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    plan = run([SNAKEMAKE, "-n", "--cores", "1", "results/round_2/model.ckpt"], b)
    assert "Nothing to be done" in plan.stdout + plan.stderr, plan.stdout[-3000:]
    for rel in (
        "results/round_1/selection.json",
        "results/round_2/selection.json",
        "results/round_1/annotations.json",
        "results/round_2/annotations.json",
        "results/validation/annotations.json",
        "results/round_2/model.ckpt",
    ):
        assert (b / rel).read_bytes() == (a / rel).read_bytes(), rel
    return b


def test_round_trip_through_a_local_folder_and_labels_are_never_overwritten(tiny_run, tmp_path):
    store = tmp_path / "store"
    a = project_with_results(tmp_path, tiny_run, [["remote", "add", "--force", "--default", "shared", str(store)]])
    assert any(store.rglob("*")), "nothing was pushed"
    b = check_round_trip(a, tmp_path)

    # a label file edited by hand; restoring again must keep it and say how to save it
    labels = b / "results" / "round_1" / "annotations.json"
    edited = [{**r, "choice": "no track"} for r in json.loads(labels.read_text())]
    labels.write_text(json.dumps(edited))
    again = versioning(b, "restore", "results/round_2/model.ckpt")
    assert again.returncode == 1
    assert "changed here and differ from the commit" in again.stderr and "round_1/annotations.json" in again.stderr
    assert "Nothing was overwritten" in again.stderr
    assert json.loads(labels.read_text()) == edited

    # no remote: the message says how to add one
    c = tmp_path / "c"
    run(["git", "clone", "--quiet", str(a), str(c)], tmp_path)
    run([DVC, "remote", "remove", "shared"], c)
    run([DVC, "remote", "remove", "local"], c)
    missing = versioning(c, "restore")
    assert (
        missing.returncode == 1 and "no DVC remote is set" in missing.stderr and "dvc remote add -d" in missing.stderr
    )


def test_round_trip_through_s3_and_a_remote_without_credentials(tiny_run, tmp_path, moto_s3):
    bucket = "bps-dvc-remote"
    boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-west-2").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    a = project_with_results(
        tmp_path,
        tiny_run,
        [
            ["remote", "add", "--force", "--default", "s3store", f"s3://{bucket}/bps"],
            ["remote", "modify", "s3store", "endpointurl", moto_s3["endpoint"]],
        ],
    )
    keys = boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-west-2").list_objects_v2(
        Bucket=bucket, Prefix="bps/"
    )
    assert keys.get("KeyCount", 0) > 0
    assert "testing" not in (a / ".dvc" / "config").read_text()  # credentials only from the environment
    check_round_trip(a, tmp_path)

    c = tmp_path / "c"
    run(["git", "clone", "--quiet", str(a), str(c)], tmp_path)
    no_keys = {
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }
    refused = versioning(c, "restore", env=no_keys)
    assert refused.returncode == 1 and "credentials" in refused.stderr, refused.stderr
