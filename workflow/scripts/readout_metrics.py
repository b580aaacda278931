"""The last round's readout as a DVC metrics file."""

import json
from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

logs.to_file(snakemake.log[0])

from bps_labeler.evaluation.readout import readout_metrics

values = readout_metrics(pd.read_csv(snakemake.input.csv), snakemake.params.round)
Path(snakemake.output.metrics).write_text(json.dumps(values, indent=1) + "\n")
