"""Label images from the hidden truth, as JSON-MIN records (the simulated annotator)."""

from pathlib import Path

import pandas as pd

from bps_labeler import logs
from bps_labeler.annotations import oracle_records, read_truth, write_records
from bps_labeler.selection import read_selected

logs.to_file(snakemake.log[0])
if "selection" in snakemake.input.keys():
    filenames = read_selected(Path(snakemake.input.selection))
else:
    split = pd.read_csv(snakemake.input.split)
    filenames = split.loc[split["split"] == "val", "filename"].tolist()
records = oracle_records(
    filenames,
    read_truth(Path(snakemake.input.truth)),
    snakemake.params.image_root,
    noise=snakemake.params.noise,
    seed=snakemake.params.seed,
)
write_records(records, Path(snakemake.output.annotations))
