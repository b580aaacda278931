"""Draw the learning curve over rounds for the report."""

from pathlib import Path

import pandas as pd

from bps_labeler import logs
from bps_labeler.figures import learning_curve_figure

logs.to_file(snakemake.log[0])
learning_curve_figure(pd.read_csv(snakemake.input.csv), Path(snakemake.output.png))
