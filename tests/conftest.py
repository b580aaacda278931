"""Shared fixtures: a small synthetic dataset and a tiny workflow run, each made once per session.

Tests come in three tiers, as markers: `workflow` (a module or test that runs snakemake marks
itself; any test of a finished run's fixture is one), `service` (any test of a real server's
fixture: Label Studio, S3 on moto, the SLURM cluster) and `unit`, everything else, the fast loop
(`make test-fast`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

# Before anything loads OpenMP, and inherited by every snakemake job the tests start: the two test
# workers share the machine's cores, and OpenMP threads that spin while they wait took those
# cycles from the other worker's jobs (two tiny runs at once: 74.5 s, 61 s with passive waits;
# docs/results/test_times.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from apt import install_in_background  # noqa: E402
from browser import PACKAGES as BROWSER_PACKAGES  # noqa: E402
from slurm_cluster import PACKAGES as SLURM_PACKAGES  # noqa: E402

from bps_labeler.data.synthetic import SyntheticSpec, generate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_BPS = REPO.parent / "shared" / "bps"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    """(raw folder with meta.csv and TIFFs, truth.csv, meta) for 68 images: 4 per condition."""
    root = tmp_path_factory.mktemp("synthetic")
    meta = generate(root / "raw", root / "truth.csv", SyntheticSpec(n_images=68, seed=3))
    return root / "raw", root / "truth.csv", meta


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


#: Where the tests' Label Studio listens: loopback, but not the default 127.0.0.1.
LABELSTUDIO_HOST = "127.0.0.2"


@pytest.fixture(scope="session")
def labelstudio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Label Studio server on a free loopback port, started once per test session.

    It listens on 127.0.0.2, a loopback address other than the default 127.0.0.1, so that every
    test against it also checks that `--host` binds where it is told (issue 28).

    Its local-files document root is the session's temporary folder, so every test's images can
    be served. Yields {"url", "token", "token_env", "document_root"}; the token is also exported
    as LABEL_STUDIO_API_KEY for the workflow runs.
    """
    from bps_labeler.labeling.labelstudio_server import start, wait_until_up

    root = tmp_path_factory.getbasetemp()
    with socket.socket() as s:
        s.bind((LABELSTUDIO_HOST, 0))
        port = s.getsockname()[1]
    token = "f" * 40
    proc = start(
        root / "labelstudio-data",
        root,
        port,
        "tests@localhost",
        "not-a-secret-1",
        token,
        root / "labelstudio.log",
        host=LABELSTUDIO_HOST,
        private_storage=True,  # the tests' S3 is moto on 127.0.0.1
    )
    url = f"http://{LABELSTUDIO_HOST}:{port}"
    try:
        wait_until_up(url, timeout_s=240, proc=proc)
        old = os.environ.get("LABEL_STUDIO_API_KEY")
        os.environ["LABEL_STUDIO_API_KEY"] = token
        yield {"url": url, "token": token, "token_env": "LABEL_STUDIO_API_KEY", "document_root": str(root)}
        if old is None:
            os.environ.pop("LABEL_STUDIO_API_KEY", None)
        else:
            os.environ["LABEL_STUDIO_API_KEY"] = old
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except Exception:
            proc.kill()


@pytest.fixture(scope="session")
def moto_s3(tiny_dataset) -> Iterator[dict[str, str]]:
    """A moto S3 server on 127.0.0.1 holding synthetic images in the real bucket's key layout.

    Yields {"endpoint", "bucket", "prefix", "out_bucket"}; signed clients use the fake keys set
    in the environment (anonymous clients need none).
    """
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-west-2")
    endpoint = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-west-2")
    bucket, prefix, out = "nasa-bps-training-data", "Microscopy/train", "bps-datasource"
    for b in (bucket, out):
        s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    # the real bucket is public: anyone may list and read it
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": ["s3:GetObject", "s3:ListBucket"],
                        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    }
                ],
            }
        ),
    )
    raw, _, _ = tiny_dataset
    for path in sorted(raw.iterdir()):
        s3.upload_file(str(path), bucket, f"{prefix}/{path.name}", ExtraArgs={"ACL": "public-read"})
    try:
        yield {"endpoint": endpoint, "bucket": bucket, "prefix": prefix, "out_bucket": out}
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 kB tmpfs that fills up after a few files: where a full disk is tested (needs root)."""
    import subprocess

    disk = tmp_path / "small"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=False)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny config run to round 2 on this machine, once: what other executors are compared to."""
    from workflows import make_workdir, snakemake, tiny_config

    workdir = make_workdir(tmp_path_factory.mktemp("wf"), tiny_config())
    snakemake(workdir, "results/round_2/model.ckpt")
    return workdir


#: Fixtures that start a real server, and the finished snakemake run; `item.fixturenames` holds
#: every fixture a test needs, directly or through another.
SERVICE_FIXTURES = {"labelstudio", "moto_s3", "cluster"}
WORKFLOW_FIXTURES = {"tiny_run"}  # fixtures built on it (a module's `run`) count through it


#: the background install a session started, which its end waits for
APT_INSTALL = pytest.StashKey[subprocess.Popen | None]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """A whole run on workers (`make test`) starts the Debian packages' installs at once, where
    they are missing: one process for the session, never one per worker."""
    config = session.config
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        return
    if config.getoption("markexpr", "").strip() == "unit":
        return
    log = Path(config.rootpath) / ".pytest_cache" / "apt-install.log"
    log.parent.mkdir(exist_ok=True)
    config.stash[APT_INSTALL] = install_in_background([*SLURM_PACKAGES, *BROWSER_PACKAGES], log)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Never leave dpkg half done: a run shorter than the installs waits for them."""
    proc = session.config.stash.get(APT_INSTALL, None)
    if proc is not None:
        try:
            proc.wait(timeout=1200)
        except subprocess.TimeoutExpired:
            proc.kill()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each test its tier: what it uses decides, so no test can land in the fast tier by
    forgetting a marker."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & WORKFLOW_FIXTURES and not item.get_closest_marker("workflow"):
            item.add_marker(pytest.mark.workflow)
        if used & SERVICE_FIXTURES and not item.get_closest_marker("service"):
            item.add_marker(pytest.mark.service)
        if not item.get_closest_marker("workflow") and not item.get_closest_marker("service"):
            item.add_marker(pytest.mark.unit)
