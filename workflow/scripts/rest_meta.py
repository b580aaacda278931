"""The rows of meta.csv the filter left out, for inference over every image (scope `all`)."""

import logging

import pandas as pd

from bps_labeler.workflow import logs

logs.to_file(snakemake.log[0])

from bps_labeler.data.meta import read_meta
from bps_labeler.models.inference import rest_of

meta = read_meta(snakemake.input.meta)
rest = rest_of(meta, pd.read_csv(snakemake.input.filtered))
rest.to_csv(snakemake.output.meta, index=False)
logging.info("%d of %d image(s) of meta.csv were left out by the filter; inference adds them", len(rest), len(meta))
