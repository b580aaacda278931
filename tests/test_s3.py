"""S3 source and datasource against a moto server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json

import boto3
import numpy as np
import pandas as pd
import pytest
import tifffile

from bps_labeler.data import s3 as s3mod
from bps_labeler.data.s3 import S3Location, download_shard, fetch_meta
from bps_labeler.errors import InputError
from bps_labeler.publish.datasource import Datasource, data_files, publish


def loc(moto_s3, **kw) -> S3Location:
    return S3Location(moto_s3["bucket"], moto_s3["prefix"], endpoint_url=moto_s3["endpoint"], **kw)


def test_meta_is_fetched_anonymously_and_checked(moto_s3, tiny_dataset, tmp_path):
    raw, _, _ = tiny_dataset
    good = hashlib.sha256((raw / "meta.csv").read_bytes()).hexdigest()
    assert fetch_meta(loc(moto_s3), tmp_path / "meta.csv", good) == good
    with pytest.raises(InputError, match="has changed since it was pinned.*set source.s3.meta_sha256"):
        fetch_meta(loc(moto_s3), tmp_path / "meta2.csv", "0" * 64)
    assert not (tmp_path / "meta2.csv").exists()


def test_missing_bucket_and_key_are_named(moto_s3, tmp_path):
    with pytest.raises(InputError, match="s3://no-such-bucket/Microscopy/train/meta.csv: the bucket does not exist"):
        fetch_meta(
            S3Location("no-such-bucket", "Microscopy/train", endpoint_url=moto_s3["endpoint"]), tmp_path / "m.csv", None
        )
    with pytest.raises(InputError, match="nowhere/meta.csv: no such object"):
        fetch_meta(S3Location(moto_s3["bucket"], "nowhere", endpoint_url=moto_s3["endpoint"]), tmp_path / "m.csv", None)


def test_no_network_is_explained(tmp_path, monkeypatch):
    # one try: the 8 tries and their 45 s of backoff are what the workflow test of it waits through
    monkeypatch.setattr(s3mod, "MAX_ATTEMPTS", 1)
    with pytest.raises(InputError, match="cannot reach the S3 endpoint"):
        fetch_meta(S3Location("b", "p", endpoint_url="http://127.0.0.1:9"), tmp_path / "m.csv", None)


def test_download_resumes_after_an_interruption(moto_s3, tiny_dataset, tmp_path, monkeypatch):
    _, _, meta = tiny_dataset
    names = meta["filename"].tolist()[:12]
    real = s3mod.download
    calls = []
    resumed = [False]

    def flaky(s3, location, name, dst):
        calls.append(name)
        if len(calls) == 6 and not resumed[0]:
            raise InputError("connection dropped")  # the job dies halfway
        return real(s3, location, name, dst)

    monkeypatch.setattr(s3mod, "download", flaky)
    with pytest.raises(InputError, match="connection dropped"):
        download_shard(names, loc(moto_s3), tmp_path, threads=1)
    done = {p.name for p in tmp_path.glob("*.tif")}
    assert 5 <= len(done) < 12 and not list(tmp_path.glob(".*part"))
    # nothing half-written looks whole: every file that is there is complete
    assert all((tmp_path / n).read_bytes() == (tiny_dataset[0] / n).read_bytes() for n in done)
    calls.clear()
    resumed[0] = True
    rows = download_shard(names, loc(moto_s3), tmp_path, threads=1)
    assert sorted(calls) == sorted(set(names) - done)  # only what was missing
    assert {r["status"] for r in rows} == {"downloaded", "present"}
    assert all((tmp_path / n).read_bytes() == (tiny_dataset[0] / n).read_bytes() for n in names)


def test_missing_images_are_listed_together(moto_s3, tmp_path):
    names = ["P999_1-A1_001_001_proj.tif", "P999_1-A1_001_002_proj.tif"]
    with pytest.raises(
        InputError,
        match=r"2 image\(s\) listed in meta.csv are missing in s3://nasa-bps-training-data: "
        r"Microscopy/train/P999_1-A1_001_001_proj.tif, Microscopy/train/P999_1-A1_001_002_proj.tif",
    ):
        download_shard(names, loc(moto_s3), tmp_path)
    assert [r["status"] for r in download_shard(names, loc(moto_s3), tmp_path, on_missing="skip")] == ["missing"] * 2


def test_an_object_that_is_not_a_tiff_is_named(moto_s3, tmp_path):
    s3 = boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-west-2")
    s3.put_object(
        Bucket=moto_s3["bucket"],
        Key=f"{moto_s3['prefix']}/P998_x-A1_001_001_proj.tif",
        Body=b"<html>",
        ACL="public-read",
    )
    with pytest.raises(
        InputError, match="s3://nasa-bps-training-data/Microscopy/train/P998_x-A1_001_001_proj.tif: not a readable TIFF"
    ):
        download_shard(["P998_x-A1_001_001_proj.tif"], loc(moto_s3), tmp_path)
    assert not (tmp_path / "P998_x-A1_001_001_proj.tif").exists()


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_publish_uploads_only_what_changed(moto_s3, tmp_path, kind):
    images, metadata = tmp_path / "img", tmp_path / "md"
    images.mkdir()
    metadata.mkdir()
    (metadata / "schema.json").write_text("[]")
    for i in range(3):
        (images / f"a{i}.jpg").write_bytes(b"jpg%d" % i)
        (metadata / f"a{i}.json").write_text("{}")
    uri = str(tmp_path / "ds") if kind == "local" else f"s3://{moto_s3['out_bucket']}/run-{tmp_path.name}"
    ds = Datasource(uri, endpoint_url=moto_s3["endpoint"])
    files = data_files(images, metadata, ["a0.jpg", "a1.jpg", "a2.jpg"])
    assert publish(ds, files, "data", tmp_path / "m1.json")["uploaded"] == 7
    assert publish(ds, files, "data", tmp_path / "m2.json")["uploaded"] == 0
    (images / "a1.jpg").write_bytes(b"changed")
    assert publish(ds, files, "data", tmp_path / "m3.json")["uploaded"] == 1
    marker = json.loads((tmp_path / "m3.json").read_text())
    assert marker["objects"]["data/a1.jpg"] == hashlib.sha256(b"changed").hexdigest()
    assert sorted(marker["objects"]) == sorted(files)
    # the pool shrank to one image: what the last publish put there for the others goes
    fewer = data_files(images, metadata, ["a0.jpg"])
    assert publish(ds, fewer, "data", tmp_path / "m4.json") == {"uploaded": 0, "n_objects": 3, "removed": 4}
    listed = (
        {
            o["Key"].removeprefix(f"run-{tmp_path.name}/")
            for o in boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-west-2").list_objects_v2(
                Bucket=moto_s3["out_bucket"], Prefix=f"run-{tmp_path.name}/"
            )["Contents"]
        }
        if kind == "s3"
        else {p.relative_to(tmp_path / "ds").as_posix() for p in (tmp_path / "ds").rglob("*") if p.is_file()}
    )
    assert listed == set(fewer) | {".bps-labeler/data.json"}
    if kind == "s3":
        s3 = boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-west-2")
        acl = s3.get_object_acl(Bucket=moto_s3["out_bucket"], Key=f"run-{tmp_path.name}/data/a0.jpg")
        assert all("AllUsers" not in str(g["Grantee"]) for g in acl["Grants"])  # never public


def test_private_object_read_anonymously_is_a_clear_403(moto_s3, tmp_path):
    s3 = boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-west-2")
    s3.put_object(Bucket=moto_s3["out_bucket"], Key="private/meta.csv", Body=b"x")  # no public ACL
    with pytest.raises(InputError, match=r"s3://bps-datasource/private/meta.csv: access denied \(403\)"):
        fetch_meta(
            S3Location(moto_s3["out_bucket"], "private", endpoint_url=moto_s3["endpoint"]), tmp_path / "m.csv", None
        )


def test_an_s3_uri_in_capitals_is_s3_not_a_local_folder(moto_s3):
    ds = Datasource("S3://bps-datasource/caps", endpoint_url=moto_s3["endpoint"])
    assert ds.s3loc is not None and (ds.s3loc.bucket, ds.s3loc.prefix) == ("bps-datasource", "caps")


@pytest.mark.parametrize("faults", [["503", "503", "503"], ["reset", "reset"], ["short"], ["503", "reset", "short"]])
def test_downloads_survive_throttling_resets_and_short_bodies(moto_s3, tiny_dataset, tmp_path, faults):
    """Each image's first GETs fail as a busy S3 or a bad network makes them; every file arrives whole."""
    from faulty_proxy import FaultyProxy

    raw, _, meta = tiny_dataset
    names = sorted(meta["filename"])[:6]
    with FaultyProxy(moto_s3["endpoint"], faults) as proxy:
        where = S3Location(moto_s3["bucket"], moto_s3["prefix"], endpoint_url=proxy.url)
        rows = download_shard(names, where, tmp_path / "cache", threads=2, out_dir=tmp_path / "out")
    assert proxy.injected and sum(proxy.injected.values()) >= len(names) * len(faults)
    assert [r["status"] for r in rows] == ["downloaded"] * len(names)
    for n in names:
        assert (tmp_path / "out" / n).read_bytes() == (raw / n).read_bytes(), n
    assert not list((tmp_path / "cache").glob(".*.part"))  # no half file left behind


def test_images_pinned_by_checksum_say_what_changed_in_the_bucket(moto_s3, tiny_dataset, tmp_path):
    from bps_labeler.data.pins import pins_from_manifests

    _, _, meta = tiny_dataset
    names = sorted(meta["filename"])[:4]
    rows = download_shard(names, loc(moto_s3), tmp_path / "a", threads=2)
    manifest = tmp_path / "download_0.tsv"
    pd.DataFrame(rows).to_csv(manifest, sep="\t", index=False)
    pins = dict(pins_from_manifests([manifest]).itertuples(index=False))
    assert set(pins) == set(names) and all(len(v) == 64 for v in pins.values())
    assert download_shard(names, loc(moto_s3), tmp_path / "b", threads=2, pins=pins)  # the same bytes: fine

    s3 = boto3.client("s3", endpoint_url=moto_s3["endpoint"], region_name="us-west-2")
    key = f"{moto_s3['prefix']}/{names[1]}"
    original = s3.get_object(Bucket=moto_s3["bucket"], Key=key)["Body"].read()
    tifffile.imwrite(tmp_path / "other.tif", np.full((20, 20), 7, np.uint16))
    s3.put_object(Bucket=moto_s3["bucket"], Key=key, Body=(tmp_path / "other.tif").read_bytes())
    try:
        with pytest.raises(
            InputError, match=rf"1 image\(s\) .* differ from the pinned checksums .*{names[1]} \(pinned"
        ):
            download_shard(names, loc(moto_s3), tmp_path / "c", threads=2, pins=pins)
    finally:
        s3.put_object(Bucket=moto_s3["bucket"], Key=key, Body=original)
