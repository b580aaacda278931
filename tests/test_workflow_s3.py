"""The workflow on an S3 source (moto on 127.0.0.1, anonymous) publishing to an S3 datasource."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import boto3
import pandas as pd
import pytest
from workflows import REPO, SNAKEMAKE, make_workdir, snakemake, tiny_config, unlock_killed_run

pytestmark = pytest.mark.workflow


def s3_config(moto_s3, truth) -> dict:
    cfg = tiny_config()
    cfg["source"] = {
        "kind": "s3",
        "s3": {
            "bucket": moto_s3["bucket"],
            "prefix": moto_s3["prefix"],
            "endpoint_url": moto_s3["endpoint"],
            "anonymous": True,
        },
    }
    cfg["filter"] = {}
    cfg["annotation"]["oracle"]["truth"] = str(truth)
    cfg["datasource"] = {"uri": f"s3://{moto_s3['out_bucket']}/wf", "endpoint_url": moto_s3["endpoint"]}
    for sel in cfg["selection"]:
        sel["n_samples"] = 10
    return cfg


def test_s3_source_to_s3_datasource(moto_s3, tiny_dataset, tmp_path):
    raw, truth, meta = tiny_dataset
    workdir = make_workdir(tmp_path, s3_config(moto_s3, truth))
    # credentials the run must use (moto takes any) and leave nowhere: files, logs, the bucket
    secrets = {
        "AWS_ACCESS_KEY_ID": "AKIASENTINEL7Q3XZ",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t-Sentinel-9f2b",
        "LABEL_STUDIO_API_KEY": "ls-token-Sentinel-77",
    }
    snakemake(workdir, "results/publish/data.json", "results/round_1/publish.json", env={**os.environ, **secrets})
    assert (workdir / "resources/raw/meta.csv").read_bytes() == (raw / "meta.csv").read_bytes()
    downloads = pd.concat(pd.read_csv(p, sep="\t") for p in (workdir / "resources/raw/shards").glob("*.tsv"))
    assert sorted(downloads["filename"]) == sorted(meta["filename"]) and set(downloads["status"]) == {"downloaded"}

    s3 = boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-west-2")
    keys = {
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=moto_s3["out_bucket"], Prefix="wf/")
        for o in page.get("Contents", [])
    }
    split = pd.read_csv(workdir / "results/data/split.csv")
    train = split.loc[split["split"] == "train", "filename"]
    stems = [n[:-4] for n in train]
    expected = (
        {f"wf/data/{n}" for n in train}
        | {f"wf/lightly/.lightly/metadata/{s}.json" for s in stems}
        | {"wf/lightly/.lightly/metadata/schema.json"}
        | {
            "wf/lightly/.lightly/predictions/tasks.json",
            "wf/lightly/.lightly/predictions/bps-classification/schema.json",
        }
        | {f"wf/lightly/.lightly/predictions/bps-classification/{s}.json" for s in stems}
        | {"wf/.bps-labeler/data.json", "wf/.bps-labeler/predictions.json"}
    )
    assert keys == expected
    body = s3.get_object(Bucket=moto_s3["out_bucket"], Key="wf/lightly/.lightly/predictions/tasks.json")["Body"].read()
    assert json.loads(body) == ["bps-classification"]
    # Lightly matches metadata and predictions to an image by its path under the Input datasource
    # (<uri>/data): each file sits at that path under .lightly/metadata (or the task's folder)
    # with .json for its suffix, and names it in file_name
    marker = json.loads((workdir / "results/publish/data.json").read_text())
    assert marker["input_datasource"] == f"s3://{moto_s3['out_bucket']}/wf/data"
    assert marker["lightly_datasource"] == f"s3://{moto_s3['out_bucket']}/wf/lightly"
    for key in sorted(k for k in keys if k.startswith("wf/data/"))[:5]:
        rel = key.removeprefix("wf/data/")
        for folder in (".lightly/metadata", ".lightly/predictions/bps-classification"):
            obj = f"wf/lightly/{folder}/{rel.removesuffix('.jpg')}.json"
            record = json.loads(s3.get_object(Bucket=moto_s3["out_bucket"], Key=obj)["Body"].read())
            assert record["file_name"] == rel, (obj, record["file_name"])
    assert marker["uploaded"] == marker["n_objects"] == 2 * len(train) + 1

    # publishing again uploads nothing; losing a few downloads fetches only those
    for n in meta["filename"][:3]:
        (workdir / "resources/raw/cache" / n).unlink()
    for p in (workdir / "resources/raw/shards").glob("*.tsv"):
        p.unlink()  # as if every download job had been killed before finishing
    shards = [f"resources/raw/shards/download_{i}.tsv" for i in range(3)]
    snakemake(workdir, *shards, "results/publish/data.json", "--forcerun", "publish_data")
    assert json.loads((workdir / "results/publish/data.json").read_text())["uploaded"] == 0
    downloads = pd.concat(pd.read_csv(p, sep="\t") for p in (workdir / "resources/raw/shards").glob("*.tsv"))
    assert sorted(downloads.loc[downloads["status"] == "downloaded", "filename"]) == sorted(meta["filename"][:3])
    leaks = [
        str(p)
        for p in workdir.rglob("*")
        if p.is_file() and any(v.encode() in p.read_bytes() for v in secrets.values())
    ]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=moto_s3["out_bucket"]):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=moto_s3["out_bucket"], Key=o["Key"])["Body"].read()
            leaks += [o["Key"] for v in secrets.values() if v.encode() in body]
    assert leaks == [], leaks  # results, logs, .snakemake, resources and the datasource


def test_kill_9_inside_the_download_then_a_plain_rerun_fetches_only_the_rest(moto_s3, tiny_dataset, tmp_path):
    """The whole run killed while images arrive over a slow network: nothing half-written stays,
    and the rerun fetches only what had not arrived."""
    from faulty_proxy import FaultyProxy

    raw, truth, meta = tiny_dataset
    with FaultyProxy(moto_s3["endpoint"], []) as proxy:
        cfg = s3_config(moto_s3, truth)
        cfg["source"]["s3"]["endpoint_url"] = proxy.url
        workdir = make_workdir(tmp_path, cfg)
        cache = workdir / "resources/raw/cache"
        proxy.delay_s = 0.3
        log = tmp_path / "killed.log"
        cmd = [SNAKEMAKE, "--snakefile", str(REPO / "workflow" / "Snakefile"), "--directory", str(workdir)]
        proc = subprocess.Popen(
            [*cmd, "--cores", "2", "results/data/images"],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        end = time.monotonic() + 300
        while len(list(cache.glob("*.tif"))) < 10:
            assert proc.poll() is None and time.monotonic() < end, log.read_text()[-3000:]
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        arrived = {p.name for p in cache.glob("*.tif")}
        assert 10 <= len(arrived) < len(meta), "killed too late to test a resumed download"
        for n in arrived:  # whatever has the image's name is the whole image
            assert (cache / n).read_bytes() == (raw / n).read_bytes(), n
        proxy.delay_s = 0.0
        unlock_killed_run(workdir, "results/data/images")
        snakemake(workdir, "results/data/images")
    downloads = pd.concat(pd.read_csv(p, sep="\t") for p in (workdir / "resources/raw/shards").glob("*.tsv"))
    assert sorted(downloads["filename"]) == sorted(meta["filename"])
    present = set(downloads.loc[downloads["status"] == "present", "filename"])
    assert arrived <= present  # what had arrived is kept, not fetched again
    for n in meta["filename"]:
        assert (cache / n).read_bytes() == (raw / n).read_bytes(), n
    assert not list(cache.glob(".*.part"))
    jpgs = {p.name for p in (workdir / "results/data/images").glob("*.jpg")}
    assert len(jpgs) == len(meta)


def test_an_unreachable_s3_endpoint_is_one_line_naming_the_bucket(tmp_path):
    cfg = tiny_config()
    cfg["source"] = {
        "kind": "s3",
        "s3": {"bucket": "bps", "prefix": "train", "endpoint_url": "http://127.0.0.1:9", "anonymous": True},
    }
    proc = snakemake(make_workdir(tmp_path, cfg), "resources/raw/meta.csv", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "ERROR: s3://bps/train/meta.csv: cannot reach the S3 endpoint" in out, out[-3000:]
    assert "Check the network or endpoint_url" in out and "Traceback" not in out
