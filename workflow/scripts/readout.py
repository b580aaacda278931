"""The per-condition readout of a round: its table and its plot."""

import json
import logging
from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

logs.to_file(snakemake.log[0])

from bps_labeler.evaluation.readout import Confusion, readout
from bps_labeler.report.figures import readout_figure

metrics = Path(snakemake.input.metrics)
confusion = Confusion.from_metrics(json.loads(metrics.read_text()), snakemake.params.positive, str(metrics))
logging.info(
    "validation, undecided images: sensitivity %.3f, specificity %.3f", confusion.sensitivity, confusion.specificity
)
table = readout(pd.read_csv(snakemake.input.answers), confusion, snakemake.params.positive, seed=snakemake.params.seed)
table.to_csv(snakemake.output.csv, index=False)
readout_figure(table, snakemake.params.positive, Path(snakemake.output.png))
