"""One manifest of every converted image: the sign that all shards are done."""

import pandas as pd

from bps_labeler import logs

logs.to_file(snakemake.log[0])
parts = [pd.read_csv(p, sep="\t") for p in snakemake.input.manifests]
pd.concat(parts).sort_values("filename").to_csv(snakemake.output.manifest, sep="\t", index=False)
