"""Write the labels the condition decides as JSON-MIN records of the annotator "rule"."""

import logging
from collections import Counter
from pathlib import Path

import pandas as pd

from bps_labeler import logs
from bps_labeler.annotations import write_records
from bps_labeler.known_answers import parse, rule_records

logs.to_file(snakemake.log[0])
meta = pd.read_csv(snakemake.input.meta)
records = rule_records(meta, parse(snakemake.params.known_answers), snakemake.params.image_root)
for rule, n in sorted(Counter(r["known_answer"] for r in records).items()):
    logging.info("%d image(s): %s", n, rule)
logging.info("%d of %d image(s) answered by their condition; people label none of them", len(records), len(meta))
write_records(records, Path(snakemake.output.known))
