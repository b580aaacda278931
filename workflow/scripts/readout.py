"""The per-condition readout of a round: its table and its plot."""

from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

logs.to_file(snakemake.log[0])

from bps_labeler.evaluation.readout import readout, with_conditions
from bps_labeler.report.figures import readout_figure

validation = with_conditions(
    pd.read_csv(snakemake.input.validation), pd.read_csv(snakemake.input.meta), snakemake.input.validation
)
table = readout(pd.read_csv(snakemake.input.answers), validation, snakemake.params.positive, seed=snakemake.params.seed)
table.to_csv(snakemake.output.csv, index=False)
readout_figure(table, snakemake.params.positive, Path(snakemake.output.png))
