"""Download meta.csv from S3 and check its pinned checksum."""

from pathlib import Path

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.s3 import S3Location, fetch_meta

cfg = snakemake.params.s3
fetch_meta(S3Location.from_config(cfg), Path(snakemake.output.meta), cfg.get("meta_sha256"))
