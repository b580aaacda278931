"""Label Studio reading a set's images from S3 (moto on 127.0.0.1), as a lab's server that shares
no disk with the run does: the task's image loads in a real Chromium from its presigned URL."""

from __future__ import annotations

import httpx
import pytest
from browser import ARGS, chromium_or_skip
from PIL import Image

from bps_labeler.data.s3 import S3Location
from bps_labeler.labeling.annotations import filename_of, from_full_export, resolve, run_image_folders
from bps_labeler.labeling.labelstudio import (
    connect,
    ensure_project,
    ensure_s3_storage,
    export_tasks,
    import_tasks,
    simulate_oracle,
)
from bps_labeler.publish.datasource import Datasource, publish

CATS = ("track", "no track")


def test_a_task_image_loads_from_s3_in_a_browser_and_the_export_resolves(labelstudio, moto_s3, tmp_path):
    image_dir = tmp_path / "images"
    image_dir.mkdir()
    names = [f"P242_0000000000{i}-A1_001_00{i}_proj.jpg" for i in range(4)]
    for i, n in enumerate(names):
        Image.new("L", (24, 24), 40 * i).save(image_dir / n)
    datasource = f"s3://{moto_s3['out_bucket']}/lab-run"
    images = S3Location.from_uri(f"{datasource}/labeling", endpoint_url=moto_s3["endpoint"], anonymous=False)
    # as the labeling job puts them there (annotate_labelstudio.py)
    ds = Datasource(images.uri(), images.endpoint_url, images.region)
    files = {n: image_dir / n for n in names}
    assert publish(ds, files, "labeling-validation", tmp_path / "marker.json")["uploaded"] == 4
    assert publish(ds, files, "labeling-validation", tmp_path / "marker.json")["uploaded"] == 0
    server = connect(labelstudio["url"], labelstudio["token_env"])
    project = ensure_project(server, "s3-images", CATS)
    ensure_s3_storage(server, project, images)
    ensure_s3_storage(server, project, images)  # again: one storage
    assert len(list(server.client.import_storage.s3.list(project=project))) == 1
    ids = import_tasks(server, project, names, tmp_path, image_dir, s3=images)
    task = httpx.get(
        f"{labelstudio['url']}/api/tasks/{ids[names[2]]}",
        params={"resolve_uri": "true"},
        headers={"Authorization": f"Token {labelstudio['token']}"},
    ).json()
    assert task["data"]["image"] != images.uri(names[2])  # resolved to a URL a browser can open
    browser_path = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(browser_path), args=ARGS)
        context = browser.new_context(extra_http_headers={"Authorization": f"Token {labelstudio['token']}"})
        page = context.new_page()
        url = task["data"]["image"]
        response = page.goto(url if url.startswith("http") else labelstudio["url"] + url)
        assert response is not None and response.ok, (url, response and response.status)
        assert response.headers.get("content-type", "").startswith("image/"), response.headers
        with (image_dir / names[2]).open("rb") as f:
            assert response.body() == f.read()  # the very file, from S3
        browser.close()
    truth = {n: CATS[i % 2] for i, n in enumerate(names)}
    simulate_oracle(server, project, truth, names)
    tasks = export_tasks(server, project, list(ids.values()))
    folders = run_image_folders(str(image_dir), datasource)
    labels, _ = resolve(from_full_export(tasks, "export"), "export", names, CATS, folders=folders)
    assert {filename_of(r["image"]): r["choice"] for r in labels} == truth


def test_where_the_server_reads_images_follows_the_datasource():
    from bps_labeler.errors import InputError
    from bps_labeler.labeling.s3_images import labeling_images

    on_s3 = {"uri": "s3://lab/run-7/", "endpoint_url": "http://minio:9000", "region": "eu-west-1"}
    assert labeling_images("auto", on_s3) == S3Location(
        "lab", "run-7/labeling", region="eu-west-1", endpoint_url="http://minio:9000", anonymous=False
    )
    assert labeling_images("local", on_s3) is None
    assert labeling_images("auto", {"uri": "results/datasource"}) is None
    with pytest.raises(InputError, match="images is 's3' but datasource.uri is 'results/datasource'"):
        labeling_images("s3", {"uri": "results/datasource"})
    # an export naming the labeling folder is this run's
    assert "s3://lab/run-7/labeling" in run_image_folders("results/data/images", "s3://lab/run-7")
