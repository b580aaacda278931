"""Check meta.csv and keep the rows the config's filter asks for."""

import logging

from bps_labeler import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.meta import filter_meta, read_meta

meta = read_meta(snakemake.input.meta)
kept = filter_meta(meta, snakemake.params.filter)
kept.to_csv(snakemake.output.meta, index=False)
logging.info("kept %d of %d rows with filter %s", len(kept), len(meta), snakemake.params.filter)
