"""Stratified, seeded train/validation split."""

import pandas as pd

from bps_labeler import logs
from bps_labeler.split import stratified_split

logs.to_file(snakemake.log[0])
split = stratified_split(
    pd.read_csv(snakemake.input.meta), snakemake.params.val_fraction, snakemake.params.seed
)
split.to_csv(snakemake.output.split, index=False)
