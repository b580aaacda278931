"""Stratified, seeded train/validation split."""

import logging
from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.split import stratified_split
from bps_labeler.labeling.store import fixed_split

fixed = fixed_split(Path(snakemake.params.store))
split = stratified_split(
    pd.read_csv(snakemake.input.meta),
    snakemake.params.split["val_fraction"],
    snakemake.params.seed,
    fixed=fixed,
    val_size=snakemake.params.split["val_size"],
)
logging.info("%d image(s) kept on the side they were labeled for (%s)", len(fixed), snakemake.params.store)
split.to_csv(snakemake.output.split, index=False)
