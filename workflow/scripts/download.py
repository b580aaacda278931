"""Download one shard of TIFFs from S3 (resumable, verified) and write its manifest."""

from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.convert import shard_of
from bps_labeler.data.pins import read_pins
from bps_labeler.data.s3 import S3Location, download_shard

cfg = snakemake.params.s3
meta = pd.read_csv(snakemake.input.meta)
shard, n = int(snakemake.wildcards.shard), snakemake.params.n_shards
names = [f for f in meta["filename"] if shard_of(f, n) == shard]
rows = download_shard(
    names,
    S3Location.from_config(cfg),
    Path(snakemake.params.cache),
    cfg["on_missing"],
    threads=4 * snakemake.threads,
    out_dir=Path(snakemake.output.tiffs),
    pins=read_pins(Path(snakemake.input.pins)) if "pins" in snakemake.input.keys() else None,
)
pd.DataFrame(rows, columns=["filename", "size", "sha256", "status"]).to_csv(
    snakemake.output.manifest, sep="\t", index=False
)
