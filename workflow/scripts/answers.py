"""The shards' answers in one table, sorted by filename."""

import logging

import pandas as pd

from bps_labeler.workflow import logs

logs.to_file(snakemake.log[0])

table = pd.concat([pd.read_csv(p) for p in snakemake.input.shards], ignore_index=True)
table = table.sort_values("filename", kind="stable")
logging.info("%d image(s) answered", len(table))
table.to_csv(snakemake.output.answers, index=False, float_format="%.6f")
