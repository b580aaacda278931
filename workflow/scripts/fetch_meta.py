"""Download meta.csv from S3 and check its pinned checksum."""

from pathlib import Path

from bps_labeler import logs
from bps_labeler.s3 import S3Location, fetch_meta

logs.to_file(snakemake.log[0])
cfg = dict(snakemake.params.s3)
sha = cfg.pop("meta_sha256", None)
cfg.pop("on_missing", None)
fetch_meta(S3Location(**cfg), Path(snakemake.output.meta), sha)
