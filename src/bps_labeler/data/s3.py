"""Reading the BPS images from S3 (anonymously) and publishing a Lightly datasource to S3.

boto3 rather than one Snakemake storage object per image: at 77,000 images a storage file per
image would make the DAG as large as the dataset, while a shard of downloads is one job.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from bps_labeler.data.pins import changed
from bps_labeler.errors import InputError
from bps_labeler.utils.files import link_or_copy, sha256_file
from bps_labeler.utils.progress import Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class S3Location:
    """Where objects live: bucket, key prefix and how to reach the endpoint."""

    bucket: str
    prefix: str = ""
    region: str = "us-west-2"
    endpoint_url: str | None = None
    anonymous: bool = True

    def key(self, name: str) -> str:
        return f"{self.prefix.strip('/')}/{name}" if self.prefix.strip("/") else name

    def uri(self, name: str = "") -> str:
        return f"s3://{self.bucket}/{self.key(name)}"

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> S3Location:
        """From `source.s3` of the config, which also holds keys that are not about location."""
        return cls(**{k: cfg[k] for k in ("bucket", "prefix", "region", "endpoint_url", "anonymous") if k in cfg})

    @classmethod
    def from_uri(cls, uri: str, **kwargs: Any) -> S3Location:
        if not is_s3_uri(uri):
            raise InputError(f"{uri!r} is not an s3:// URI.")
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        return cls(bucket=bucket, prefix=prefix, **kwargs)


def is_s3_uri(uri: str) -> bool:
    """URI schemes are case-insensitive (RFC 3986): S3://bucket is S3, not a local folder named S3:."""
    return uri[:5].lower() == "s3://"


#: Tries of a request, the first included: botocore's standard mode backs off between them, so an
#: endpoint nothing answers at is given up on after about 45 s.
MAX_ATTEMPTS = 8


def client(loc: S3Location):  # type: ignore[no-untyped-def]
    """A boto3 S3 client; anonymous requests are unsigned (the BPS bucket is public).

    Credentials for signed access come from the environment (AWS_ACCESS_KEY_ID, ...), never from
    the config. Transient errors are retried by botocore's standard mode.
    """
    cfg = Config(
        region_name=loc.region,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        signature_version=botocore.UNSIGNED if loc.anonymous else None,
    )
    endpoint = loc.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or None
    return boto3.session.Session().client("s3", endpoint_url=endpoint, config=cfg)


class MissingObject(InputError):
    """The key is not in the bucket: callers may skip it, unlike every other S3 error."""


def is_missing(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "404") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404


def explain(exc: Exception, uri: str) -> InputError:
    """Turn a boto error into a message that names the object and what to do."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return InputError(f"{uri}: the bucket does not exist. Check the bucket name in the config.")
        if is_missing(exc):
            return MissingObject(f"{uri}: no such object.")
        if code in ("AccessDenied", "403") or status == 403:
            return InputError(
                f"{uri}: access denied (403). For the public BPS bucket use anonymous access; for "
                "your own bucket put credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."
            )
        return InputError(f"{uri}: S3 error {code or status}: {exc}")
    if isinstance(exc, EndpointConnectionError):
        return InputError(f"{uri}: cannot reach the S3 endpoint ({exc}). Check the network or endpoint_url.")
    return InputError(f"{uri}: {type(exc).__name__}: {exc}")


#: Tries of one object whose body broke off mid-stream; botocore retries the request itself
#: (throttling, resets, 5xx), not a body that ends early.
BODY_TRIES = 4


def download(s3: Any, loc: S3Location, name: str, dst: Path) -> int:
    """Download one object through a temporary name; return its size.

    The final name appears only once the whole object is on disk and its size matches what S3
    says, so an interrupted download never looks whole. A body that ends early is fetched again.
    """
    uri = loc.uri(name)
    tmp = dst.with_name(f".{dst.name}.part")
    for attempt in range(1, BODY_TRIES + 1):
        try:
            # one GET per image: its body streams to disk and its length checks the copy
            resp = s3.get_object(Bucket=loc.bucket, Key=loc.key(name))
            with open(tmp, "wb") as f:
                shutil.copyfileobj(resp["Body"], f, 1 << 20)
            size = tmp.stat().st_size
            if size == resp["ContentLength"]:
                os.replace(tmp, dst)
                return size
            problem = f"downloaded {size} bytes, S3 says {resp['ContentLength']}"
        except (IncompleteReadError, ResponseStreamingError, ReadTimeoutError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        except (ClientError, BotoCoreError) as exc:
            tmp.unlink(missing_ok=True)
            raise explain(exc, uri) from exc
        tmp.unlink(missing_ok=True)
        if attempt < BODY_TRIES:
            log.warning("%s: %s; fetching it again (%d/%d)", uri, problem, attempt, BODY_TRIES - 1)
            time.sleep(0.5 * attempt)
    raise InputError(f"{uri}: {problem} on {BODY_TRIES} tries; check the network and run again.")


def fetch_meta(loc: S3Location, dst: Path, expected_sha256: str | None) -> str:
    """Download meta.csv and check it against the pinned checksum; return its sha256."""
    s3 = client(loc)
    dst.parent.mkdir(parents=True, exist_ok=True)
    download(s3, loc, "meta.csv", dst)
    digest = sha256_file(dst)
    if expected_sha256 and digest != expected_sha256:
        dst.unlink()
        raise InputError(
            f"{loc.uri('meta.csv')} has changed since it was pinned: sha256 {digest}, expected "
            f"{expected_sha256}. The published dataset was updated; review the new file, then set "
            "source.s3.meta_sha256 to the new checksum (or remove it to accept any version)."
        )
    return digest


def download_shard(
    names: list[str],
    loc: S3Location,
    dst_dir: Path,
    on_missing: str = "stop",
    threads: int = 8,
    out_dir: Path | None = None,
    pins: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Download the images of one shard into `dst_dir`; each is verified (size, and the TIFF opens).

    Images already in `dst_dir` are kept (they only ever appear there whole), so a rerun after an
    interruption fetches only what is missing. With `out_dir`, each verified image is also linked
    there: the shard's declared output, which Snakemake empties before a rerun and which remote
    storage uploads, while `dst_dir` stays as the resumable cache. Objects that do not exist are collected into one
    list: with `on_missing="stop"` that list is the error, with "skip" they are left out.
    """
    from concurrent.futures import ThreadPoolExecutor

    from bps_labeler.data.convert import check_tiff

    dst_dir.mkdir(parents=True, exist_ok=True)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    s3 = client(loc)

    def one(name: str) -> dict[str, Any]:
        dst = dst_dir / name
        fetched = False
        if not dst.exists():
            try:
                download(s3, loc, name, dst)
                fetched = True
            except MissingObject:
                return {"filename": name, "size": 0, "sha256": "", "status": "missing"}
        try:  # the header and strip extents only: convert decodes the pixels once, later
            check_tiff(dst, shown=loc.uri(name))
        except InputError:
            dst.unlink(missing_ok=True)
            raise
        if out_dir is not None:
            link_or_copy(dst, out_dir / name)
        return {
            "filename": name,
            "size": dst.stat().st_size,
            "sha256": sha256_file(dst),
            "status": "downloaded" if fetched else "present",
        }

    progress = Progress(f"download from s3://{loc.bucket}", len(names), log)
    rows = []
    with ThreadPoolExecutor(max(1, threads)) as pool:
        for row in pool.map(one, sorted(names)):
            rows.append(row)
            progress.update()
    if pins is not None:
        differ = changed(rows, pins)
        if differ:
            raise InputError(
                f"{len(differ)} image(s) in s3://{loc.bucket}/{loc.prefix} differ from the pinned "
                f"checksums (source.s3.pins): {', '.join(differ[:10])}{' ...' if len(differ) > 10 else ''}. "
                "The bucket's copies changed since they were pinned: restore the pinned files (dvc "
                "pull), or pin the new ones on purpose (python -m bps_labeler.data.pins)."
            )
    missing = [r["filename"] for r in rows if r["status"] == "missing"]
    if missing:
        listing = ", ".join(loc.key(m) for m in missing[:20]) + (" ..." if len(missing) > 20 else "")
        if on_missing == "stop":
            raise InputError(
                f"{len(missing)} image(s) listed in meta.csv are missing in s3://{loc.bucket}: "
                f"{listing}. Set source.s3.on_missing: skip to continue without them."
            )
        log.warning("skipping %d image(s) missing in s3://%s: %s", len(missing), loc.bucket, listing)
    return rows
