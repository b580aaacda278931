"""Write the learning curve over every round's metrics.json."""

from pathlib import Path

from bps_labeler import logs
from bps_labeler.learning_curve import learning_curve, write

logs.to_file(snakemake.log[0])
write(
    learning_curve([Path(p) for p in snakemake.input.metrics]),
    Path(snakemake.output.csv),
    Path(snakemake.output.metrics),
)
