"""Upload what changed to the Lightly datasource (local folder or S3) and write the marker."""

from pathlib import Path

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.split import split_filenames
from bps_labeler.publish.datasource import Datasource, data_files, prediction_files, publish

cfg = snakemake.params.datasource
ds = Datasource(cfg["uri"], endpoint_url=cfg.get("endpoint_url"), region=cfg["region"])
if "predictions" in snakemake.input.keys():
    files, name = prediction_files(Path(snakemake.input.predictions)), "predictions"
else:
    train = split_filenames(Path(snakemake.input.split), "train")
    files = data_files(Path(snakemake.params.image_dir), Path(snakemake.input.metadata), train)
    name = "data"
publish(ds, files, name, Path(snakemake.output.marker))
