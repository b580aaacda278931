"""Draw the learning curve over rounds for the report."""

from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.report.figures import learning_curve_figure
from bps_labeler.workflow.tracking import job_run

curve = pd.read_csv(snakemake.input.csv)
learning_curve_figure(curve, Path(snakemake.output.png))
with job_run(snakemake) as run:  # the curve over rounds, one chart in each tracker
    for row in curve.to_dict("records"):
        run.log_figures(row, step=int(row["round"]))
    run.log_pictures([Path(snakemake.output.png)])
