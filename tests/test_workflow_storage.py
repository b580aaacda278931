"""No shared file system: every input and output in an S3 bucket (Snakemake's storage plugin).

This is how Snakemake runs on Kubernetes or cloud batch executors: jobs fetch their inputs from
the bucket and send their outputs back, and nothing but what a rule declares travels between
them. The bucket is the moto server on 127.0.0.1 (tests/conftest.py).
"""

from __future__ import annotations

import boto3
import pandas as pd
import pytest
from workflows import make_workdir, snakemake, tiny_config

pytestmark = pytest.mark.workflow


def storage_args(moto_s3: dict[str, str], bucket: str) -> list[str]:
    return [
        "--default-storage-provider",
        "s3",
        "--default-storage-prefix",
        f"s3://{bucket}/run",
        "--storage-s3-endpoint-url",
        moto_s3["endpoint"],
        # moto takes any key; a real site sets these from its environment or profile
        "--storage-s3-access-key",
        "testing",
        "--storage-s3-secret-key",
        "testing",
    ]


def test_rounds_run_with_every_file_in_s3(moto_s3, tiny_run, tmp_path):
    s3 = boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-west-2")
    bucket = "bps-workflow-storage"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    workdir = make_workdir(tmp_path / "wf", tiny_config())

    snakemake(workdir, "results/round_2/model.ckpt", *storage_args(moto_s3, bucket))

    keys = {
        o["Key"].removeprefix("run/")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="run/")
        for o in page.get("Contents", [])
    }
    # the raw TIFFs, the JPGs and every round's results are objects in the bucket ...
    manifest = pd.read_csv(tiny_run / "results/data/images/manifest.tsv", sep="\t")
    assert {f"results/data/images/{n}" for n in manifest["filename"]} <= keys
    tiffs = {k for k in keys if k.startswith("resources/raw/tiffs/")}
    assert len(tiffs) == len(list((tiny_run / "resources/raw/tiffs").iterdir()))
    for r in (1, 2):
        assert {f"results/round_{r}/selection.json", f"results/round_{r}/model.ckpt"} <= keys
    # ... the shards' JPG folders were temporary and are gone from it ...
    assert not [k for k in keys if k.startswith("results/data/shards/images_")]
    # ... and no result stayed on the local disk: the jobs shared nothing but the bucket
    assert not (workdir / "results").exists() and not (workdir / "resources").exists()

    # the same selections as the local run of the same config
    for r in (1, 2):
        sel = f"results/round_{r}/selection.json"
        body = s3.get_object(Bucket=bucket, Key=f"run/{sel}")["Body"].read()
        assert body == (tiny_run / sel).read_bytes(), f"round {r} selection differs"

    again = snakemake(workdir, "-n", "results/round_2/model.ckpt", *storage_args(moto_s3, bucket))
    assert "Nothing to be done" in again.stdout + again.stderr
