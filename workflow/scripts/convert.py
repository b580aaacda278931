"""Convert one shard of TIFFs to JPGs and write the shard's manifest."""

from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.convert import Stretch, convert_shard

cfg = snakemake.params.convert
meta = pd.read_csv(snakemake.input.meta)
for path in snakemake.input.downloaded:  # S3 source: only what the download shard fetched
    fetched = pd.read_csv(path, sep="\t")
    meta = meta[meta["filename"].isin(fetched.loc[fetched["status"] != "missing", "filename"])]
manifest = convert_shard(
    meta,
    shard=int(snakemake.wildcards.shard),
    n_shards=snakemake.params.n_shards,
    # the TIFF folder: a rule's output (synthetic, S3 download shard) or the user's folder (local)
    src_dir=Path(snakemake.input.get("tiffs") or snakemake.params.src_dir),
    dst_dir=Path(snakemake.output.images),
    stretch=Stretch(cfg["stretch"], *cfg["percentiles"], quality=cfg["jpeg_quality"]),
    workers=snakemake.threads,
)
manifest.to_csv(snakemake.output.manifest, sep="\t", index=False)
