"""Predict the whole training pool and write Lightly's prediction format.

Where the condition decides the label (known answers), the prediction is the rule's, with full
confidence: that is what the pipeline answers for those images, and it keeps them out of any
uncertainty-based choice.
"""

import logging
from pathlib import Path

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

import pandas as pd

from bps_labeler.data.split import split_filenames
from bps_labeler.labeling.annotations import read_labels
from bps_labeler.models.conditions import by_image
from bps_labeler.models.inference import answer_probabilities
from bps_labeler.models.network import load_network
from bps_labeler.models.predictions import write_predictions
from bps_labeler.utils.accelerator import torch_device

filenames = split_filenames(Path(snakemake.input.split), "train")
model = load_network(Path(snakemake.input.model))
rule_labels = read_labels(Path(snakemake.input.known), model.categories)
# the config, not a param: where the network runs changes no answer, so it reruns nothing
device = torch_device(snakemake.config["accelerator"])
# metadata indexed by image, for a model that reads the condition (train.condition_features)
conditions = by_image(pd.read_csv(snakemake.input.meta)) if snakemake.input.get("meta") else None
probs, decided = answer_probabilities(
    model,
    Path(snakemake.params.image_dir),
    filenames,
    rule_labels,
    threads=snakemake.threads,
    device=device,
    conditions=conditions,
)
logging.info(
    "%d image(s) predicted by the model, %d answered by their condition",
    int((~decided).sum()),
    int(decided.sum()),
)
write_predictions(Path(snakemake.output.predictions), filenames, probs, model.categories)
