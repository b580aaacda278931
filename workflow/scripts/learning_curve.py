"""Write the learning curve over every round's metrics.json."""

from pathlib import Path

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.evaluation.learning_curve import learning_curve, write

write(
    learning_curve([Path(p) for p in snakemake.input.metrics]),
    Path(snakemake.output.csv),
    Path(snakemake.output.metrics),
)
