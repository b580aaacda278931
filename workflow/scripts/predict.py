"""Predict the whole training pool and write Lightly's prediction format.

Where the condition decides the label (known answers), the prediction is the rule's, with full
confidence: that is what the pipeline answers for those images, and it keeps them out of any
uncertainty-based choice.
"""

import logging
from pathlib import Path

import numpy as np

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.split import split_filenames
from bps_labeler.labeling.annotations import read_labels
from bps_labeler.models.network import load_network, predict_proba
from bps_labeler.models.predictions import write_predictions

filenames = split_filenames(Path(snakemake.input.split), "train")
model = load_network(Path(snakemake.input.model))
categories = model.categories
rule_labels = read_labels(Path(snakemake.input.known), categories)
undecided = [f for f in filenames if f not in rule_labels]
probs = np.zeros((len(filenames), len(categories)))
index = {f: i for i, f in enumerate(filenames)}
if undecided:
    probs[[index[f] for f in undecided]] = predict_proba(
        model, Path(snakemake.params.image_dir), undecided, threads=snakemake.threads
    )
for f in filenames:
    if f in rule_labels:
        probs[index[f], categories.index(rule_labels[f])] = 1.0
logging.info(
    "%d image(s) predicted by the model, %d answered by their condition",
    len(undecided),
    len(filenames) - len(undecided),
)
write_predictions(Path(snakemake.output.predictions), filenames, probs, categories)
