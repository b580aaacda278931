"""Download-plus-convert throughput from a local S3 server (moto) against its raw limits.

Prints, for the same objects in the same run: GET-only (bytes read, threaded like the pipeline),
convert-only (local TIFFs to JPGs) and download+convert (the pipeline's download shard, which
also verifies every TIFF, followed by the convert shard).

    .venv/bin/python benchmarks/s3_throughput.py [--n-images 1000]
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pandas as pd
from moto.server import ThreadedMotoServer

from bps_labeler.data.convert import Stretch, convert_shard
from bps_labeler.data.s3 import S3Location, client, download_shard
from bps_labeler.data.synthetic import SyntheticSpec, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=1000)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    endpoint = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-west-2")
    s3.create_bucket(Bucket="bps", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        meta = generate(tmp / "src", tmp / "truth.csv", SyntheticSpec(n_images=args.n_images))
        names = meta["filename"].tolist()
        for n in names:
            s3.upload_file(str(tmp / "src" / n), "bps", f"train/{n}", ExtraArgs={"ACL": "public-read"})
        loc = S3Location("bps", "train", endpoint_url=endpoint)
        anon = client(loc)  # the pipeline's own client: anonymous, same retries and timeouts

        t = time.perf_counter()
        with ThreadPoolExecutor(4 * cores) as pool:
            list(pool.map(lambda n: anon.get_object(Bucket="bps", Key=f"train/{n}")["Body"].read(), names))
        get_only = time.perf_counter() - t

        frame = pd.DataFrame({"filename": names})
        t = time.perf_counter()
        convert_shard(frame, 0, 1, tmp / "src", tmp / "jpg1", Stretch(), workers=cores)
        convert_only = time.perf_counter() - t

        t = time.perf_counter()
        download_shard(names, loc, tmp / "raw", threads=4 * cores)
        convert_shard(frame, 0, 1, tmp / "raw", tmp / "jpg2", Stretch(), workers=cores)
        both = time.perf_counter() - t
    server.stop()
    n = len(names)
    print(f"S3 throughput, {n} synthetic images from moto on 127.0.0.1, {cores} cores")
    print(f"  GET only ({4 * cores} threads)           {n / get_only:7.0f} images/s  ({get_only:6.2f} s)")
    print(f"  convert only ({cores} workers)          {n / convert_only:7.0f} images/s  ({convert_only:6.2f} s)")
    print(f"  download (verified) + convert   {n / both:7.0f} images/s  ({both:6.2f} s)")
    print(f"  raw limit (1/(1/get+1/convert)) {n / (get_only + convert_only):7.0f} images/s")


if __name__ == "__main__":
    main()
