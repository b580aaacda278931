"""Check meta.csv and keep the rows the config's filter asks for."""

import logging

from bps_labeler import logs
from bps_labeler.meta import filter_meta, read_meta

logs.to_file(snakemake.log[0])
meta = read_meta(snakemake.input.meta)
kept = filter_meta(meta, snakemake.params.filter)
kept.to_csv(snakemake.output.meta, index=False)
logging.info("kept %d of %d rows with filter %s", len(kept), len(meta), snakemake.params.filter)
