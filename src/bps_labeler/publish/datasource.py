"""Publishing the training set, metadata and predictions as a Lightly datasource.

Layout: two folders, as the old tutorial set them up in its bucket, one for each of the two
datasources Lightly asks for (https://docs.lightly.ai/docs/cloud-storage):

    data/<stem>.jpg                                    the Input datasource: <uri>/data
    lightly/.lightly/metadata/schema.json, <stem>.json the Lightly datasource: <uri>/lightly
    lightly/.lightly/predictions/tasks.json, bps-classification/{schema,<stem>}.json

Lightly matches a metadata or prediction file to its image by path: the file's path under
`.lightly/metadata/` (or the task's folder) must be the image's path under the Input datasource
with `.json` for its suffix, and `file_name` inside it that same image path. With the Input
datasource at `data/`, an image `data/<stem>.jpg` is `<stem>.jpg` to Lightly, which is what
the metadata and prediction files say (`datasource_paths` gives both URIs).

The datasource is a local folder or `s3://bucket/prefix`. Every publish leaves a marker listing
each key with its sha256, both in the datasource (`.bps-labeler/<name>.json`) and locally; the
next publish compares against the datasource's marker and uploads only what changed. Objects are
written whole (S3 PUTs are atomic; local files go through a temporary name) and never with a
public ACL.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bps_labeler.data.datasource_layout import INPUT_DIR, LIGHTLY_DIR, datasource_paths
from bps_labeler.data.s3 import S3Location, client, explain, is_missing, is_s3_uri, sha256_file

log = logging.getLogger(__name__)
MARKER_DIR = ".bps-labeler"


class Datasource:
    """A local folder or an S3 prefix that takes whole files by key."""

    def __init__(self, uri: str, endpoint_url: str | None = None, region: str = "us-west-2") -> None:
        self.uri = uri
        self.s3loc = (
            S3Location.from_uri(uri, endpoint_url=endpoint_url, region=region, anonymous=False)
            if is_s3_uri(uri)
            else None
        )
        self._s3 = client(self.s3loc) if self.s3loc else None

    def put(self, src: Path, key: str) -> None:
        if self.s3loc is None:
            dst = Path(self.uri) / key
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.part")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
            return
        try:
            self._s3.upload_file(str(src), self.s3loc.bucket, self.s3loc.key(key))
        except (ClientError, BotoCoreError) as exc:
            raise explain(exc, self.s3loc.uri(key)) from exc

    def put_text(self, text: str, key: str, scratch: Path) -> None:
        scratch.parent.mkdir(parents=True, exist_ok=True)
        scratch.write_text(text)
        self.put(scratch, key)

    def delete(self, key: str) -> None:
        if self.s3loc is None:
            (Path(self.uri) / key).unlink(missing_ok=True)
            return
        try:
            self._s3.delete_object(Bucket=self.s3loc.bucket, Key=self.s3loc.key(key))
        except (ClientError, BotoCoreError) as exc:
            raise explain(exc, self.s3loc.uri(key)) from exc

    def get_text(self, key: str) -> str | None:
        if self.s3loc is None:
            path = Path(self.uri) / key
            return path.read_text() if path.exists() else None
        try:
            obj = self._s3.get_object(Bucket=self.s3loc.bucket, Key=self.s3loc.key(key))
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise explain(exc, self.s3loc.uri(key)) from exc
        return obj["Body"].read().decode()


def publish(ds: Datasource, files: dict[str, Path], name: str, marker_out: Path) -> dict[str, Any]:
    """Upload `files` (key -> local path) that differ from the datasource's last marker `name`.

    The datasource's marker is written last, so an interrupted publish uploads again whatever it
    had not confirmed.
    """
    key = f"{MARKER_DIR}/{name}.json"
    previous = json.loads(ds.get_text(key) or "{}").get("objects", {})
    sums = {k: sha256_file(p) for k, p in sorted(files.items())}
    changed = [k for k, s in sums.items() if previous.get(k) != s]
    for k in changed:
        ds.put(files[k], k)
    # what this publish name put there before and no longer lists (the pool shrank): only keys
    # of its own last marker, never anything else in the datasource
    stale = sorted(set(previous) - set(sums))
    for k in stale:
        ds.delete(k)
    marker = {"datasource": ds.uri, **datasource_paths(ds.uri), "name": name, "n_objects": len(sums), "objects": sums}
    text = json.dumps(marker, indent=1, sort_keys=True) + "\n"
    ds.put_text(text, key, marker_out.with_name(f".{marker_out.name}.tmp"))
    marker_out.parent.mkdir(parents=True, exist_ok=True)
    marker_out.write_text(
        json.dumps({**marker, "uploaded": len(changed), "removed": len(stale)}, indent=1, sort_keys=True) + "\n"
    )
    marker_out.with_name(f".{marker_out.name}.tmp").unlink(missing_ok=True)
    log.info(
        "published %s to %s: %d object(s), %d uploaded, %d removed", name, ds.uri, len(sums), len(changed), len(stale)
    )
    return {"uploaded": len(changed), "n_objects": len(sums), "removed": len(stale)}


def data_files(image_dir: Path, metadata_dir: Path, filenames: list[str]) -> dict[str, Path]:
    """Datasource keys of the training images and their Lightly metadata."""
    files = {f"{LIGHTLY_DIR}/.lightly/metadata/schema.json": metadata_dir / "schema.json"}
    for name in filenames:
        stem = Path(name).stem
        files[f"{INPUT_DIR}/{name}"] = image_dir / name
        files[f"{LIGHTLY_DIR}/.lightly/metadata/{stem}.json"] = metadata_dir / f"{stem}.json"
    return files


def prediction_files(pred_dir: Path) -> dict[str, Path]:
    """Datasource keys of one round's predictions (tasks.json and one folder per task)."""
    return {
        f"{LIGHTLY_DIR}/.lightly/predictions/{p.relative_to(pred_dir).as_posix()}": p
        for p in sorted(pred_dir.rglob("*.json"))
    }
