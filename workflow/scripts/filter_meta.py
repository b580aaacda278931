"""Check meta.csv and keep the rows the config's filter asks for."""

import logging

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.meta import filter_meta, read_meta, stem
from bps_labeler.labeling.store import STORE, fixed_split

meta = read_meta(snakemake.input.meta)
# images people were given stay in the pool whatever the cap's shares (read at run time, as the
# select rule reads the store: the store is no rule's input)
given = set(fixed_split(STORE))
kept = filter_meta(meta, snakemake.params.filter, given=[n for n in meta["filename"] if f"{stem(n)}.jpg" in given])
kept.to_csv(snakemake.output.meta, index=False)
logging.info("kept %d of %d rows with filter %s", len(kept), len(meta), snakemake.params.filter)
