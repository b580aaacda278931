"""Download meta.csv from S3 and check its pinned checksum."""

from pathlib import Path

from bps_labeler import logs
from bps_labeler.s3 import S3Location, fetch_meta

logs.to_file(snakemake.log[0])
cfg = snakemake.params.s3
fetch_meta(S3Location.from_config(cfg), Path(snakemake.output.meta), cfg.get("meta_sha256"))
