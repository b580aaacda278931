"""Label images from the hidden truth, as JSON-MIN records (the simulated annotator)."""

from pathlib import Path

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.split import split_filenames
from bps_labeler.labeling.annotations import check_truth_categories, oracle_records, read_truth, write_records
from bps_labeler.selection.records import read_selected

if "selection" in snakemake.input.keys():
    filenames = read_selected(Path(snakemake.input.selection))
else:
    filenames = split_filenames(Path(snakemake.input.split), "val")
truth = read_truth(Path(snakemake.input.truth))
# read from the config, not a param: a check, which must not make finished rounds out of date
check_truth_categories(truth, tuple(snakemake.config["annotation"]["categories"]), Path(snakemake.input.truth))
records = oracle_records(
    filenames,
    truth,
    snakemake.params.image_root,
    noise=snakemake.params.noise,
    seed=snakemake.params.seed,
)
write_records(records, Path(snakemake.output.annotations))
