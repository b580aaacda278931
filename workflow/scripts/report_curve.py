"""Draw the learning curve over rounds for the report."""

from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.report.figures import learning_curve_figure

learning_curve_figure(pd.read_csv(snakemake.input.csv), Path(snakemake.output.png))
