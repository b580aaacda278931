"""Answer every image of this shard of the scope: the rule's answer where the condition decides,
the model's elsewhere, with each class's probability."""

import logging
from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.split import split_filenames
from bps_labeler.labeling.annotations import read_labels
from bps_labeler.labeling.known_answers import known_labels, parse
from bps_labeler.models.inference import answer_images, rest_filenames, scope_filenames
from bps_labeler.models.network import load_network
from bps_labeler.utils.accelerator import torch_device

meta = pd.read_csv(snakemake.input.meta)
pool = split_filenames(Path(snakemake.input.split), "train")
names = scope_filenames(meta, pool, snakemake.params.scope, int(snakemake.wildcards.shard), snakemake.params.shards)
model = load_network(Path(snakemake.input.model))
rule_labels = read_labels(Path(snakemake.input.known), model.categories)
shard, threads = int(snakemake.wildcards.shard), snakemake.threads
# the config, not a param: where the network runs changes no answer, so it reruns nothing
device = torch_device(snakemake.config["accelerator"])
table = answer_images(model, Path(snakemake.params.image_dir), meta, names, rule_labels, threads, device)
if snakemake.params.scope == "all":  # and the images the filter left out, converted for this
    rest = pd.read_csv(snakemake.input.rest_meta)
    decided = known_labels(rest, parse(snakemake.params.known_answers)).dropna().to_dict()
    rest_names = rest_filenames(rest, shard, snakemake.params.shards)
    images = Path(snakemake.input.rest_images)
    table = pd.concat([table, answer_images(model, images, rest, rest_names, decided, threads, device)])
logging.info(
    "shard %s: %d image(s), %d answered by the model, %d by their condition",
    snakemake.wildcards.shard,
    len(table),
    int((table["answered_by"] == "model").sum()),
    int((table["answered_by"] == "condition").sum()),
)
table.to_csv(snakemake.output.answers, index=False, float_format="%.6f")
