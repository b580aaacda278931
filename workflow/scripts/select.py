"""Choose this round's images with lightly-mundig, or keep the ones people were already given."""

import logging
from pathlib import Path

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.lightly_metadata import metadata_table
from bps_labeler.embeddings.io import read_embeddings
from bps_labeler.labeling.known_answers import read_known
from bps_labeler.labeling.store import check_in_pool, given_path, kept_selection, set_name
from bps_labeler.models.predictions import read_predictions
from bps_labeler.selection.engine import select
from bps_labeler.selection.pool import Pool, PoolExhausted
from bps_labeler.selection.records import read_selected, round_tags, selection_record, write_selection
from bps_labeler.workflow.tracking import job_run

round_ = int(snakemake.wildcards.round)
store = Path(snakemake.params.store)
kept = kept_selection(round_, store)
if kept is not None:
    check_in_pool(
        round_, [s["filename"] for s in kept["selected"]], read_embeddings(Path(snakemake.input.embeddings))[0], store
    )
    logging.info(
        "round %d was given to a labeler (%s): its %d images are kept, not selected again, "
        "whatever changed in the config, the code or earlier labels",
        round_,
        given_path(set_name(round_), store),
        len(kept["selected"]),
    )
    record = kept
else:
    filenames, embeddings = read_embeddings(Path(snakemake.input.embeddings))
    preds = snakemake.input.predictions
    known = read_known(Path(snakemake.input.meta), snakemake.params.known_answers)
    pool = Pool(
        filenames=filenames,
        embeddings=embeddings,
        metadata=metadata_table(Path(snakemake.input.metadata)),
        probabilities=read_predictions(Path(preds[0]), filenames) if preds else None,
        categories=tuple(snakemake.params.categories),
        known=known.reindex(filenames).notna().to_numpy(),
    )
    preselected = [n for path in snakemake.input.earlier for n in read_selected(Path(path))]
    where = f"selection config of round {round_}"
    tags = round_tags([Path(p) for p in snakemake.input.earlier])
    try:
        chosen = select(snakemake.params.config, pool, preselected, where=where, tags=tags)
    except PoolExhausted as err:
        if round_ == 1:
            raise
        # a later round exists because the target or the config's `rounds` asked for it
        raise PoolExhausted(
            f"{err} Round {round_} was asked for by the target or by `rounds` ({snakemake.config['rounds']} "
            "in the config): ask for fewer rounds."
        ) from None
    record = selection_record(round_, snakemake.params.config, pool, preselected, chosen)
write_selection(record, Path(snakemake.output.selection))
with job_run(snakemake) as run:  # the selection's summary, where tracking.loggers asks
    run.log_figures({k: v for k, v in record.items() if k != "config"})
