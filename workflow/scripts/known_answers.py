"""Write the labels the condition decides as JSON-MIN records of the annotator "rule"."""

import logging
from collections import Counter
from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.labeling.annotations import write_records
from bps_labeler.labeling.known_answers import parse, rule_records

meta = pd.read_csv(snakemake.input.meta)
records = rule_records(meta, parse(snakemake.params.known_answers), snakemake.params.image_root)
for rule, n in sorted(Counter(r["known_answer"] for r in records).items()):
    logging.info("%d image(s): %s", n, rule)
logging.info("%d of %d image(s) answered by their condition; people label none of them", len(records), len(meta))
write_records(records, Path(snakemake.output.known))
