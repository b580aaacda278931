"""Write one Lightly metadata JSON per image and schema.json."""

from pathlib import Path

import pandas as pd

from bps_labeler import logs
from bps_labeler.lightly_metadata import write_metadata

logs.to_file(snakemake.log[0])
write_metadata(
    pd.read_csv(snakemake.input.meta),
    Path(snakemake.output[0]),
    quality=pd.read_csv(Path(snakemake.input.images) / "manifest.tsv", sep="\t"),
)
