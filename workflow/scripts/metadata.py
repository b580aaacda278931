"""Write one Lightly metadata JSON per image and schema.json."""

from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.lightly_metadata import write_metadata

write_metadata(
    pd.read_csv(snakemake.input.meta),
    Path(snakemake.output[0]),
    quality=pd.read_csv(Path(snakemake.input.images) / "manifest.tsv", sep="\t"),
)
