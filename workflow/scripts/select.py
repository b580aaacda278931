"""Choose this round's images with lightly-mundig."""

from pathlib import Path

from bps_labeler import logs
from bps_labeler.embed import read_embeddings
from bps_labeler.lightly_metadata import metadata_table
from bps_labeler.predictions import read_predictions
from bps_labeler.selection import Pool, read_selected, select, selection_record, write_selection

logs.to_file(snakemake.log[0])
round_ = int(snakemake.wildcards.round)
filenames, embeddings = read_embeddings(Path(snakemake.input.embeddings))
preds = snakemake.input.predictions
pool = Pool(
    filenames=filenames,
    embeddings=embeddings,
    metadata=metadata_table(Path(snakemake.input.metadata)),
    probabilities=read_predictions(Path(preds[0]), filenames) if preds else None,
    categories=tuple(snakemake.params.categories),
)
preselected = [n for path in snakemake.input.earlier for n in read_selected(Path(path))]
where = f"selection config of round {round_}"
chosen = select(snakemake.params.config, pool, preselected, where=where)
write_selection(
    selection_record(round_, snakemake.params.config, pool, preselected, chosen),
    Path(snakemake.output.selection),
)
