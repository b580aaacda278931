"""Train SimCLR on the training pool and write Lightly embeddings plus the backbone."""

from pathlib import Path

import pandas as pd

from bps_labeler import logs
from bps_labeler.embed import EmbedSpec, train_embeddings

logs.to_file(snakemake.log[0])
split = pd.read_csv(snakemake.input.split)
train_embeddings(
    Path(snakemake.params.image_dir),
    split.loc[split["split"] == "train", "filename"].tolist(),
    EmbedSpec(**snakemake.params.embed, seed=snakemake.params.seed, accelerator=snakemake.params.accelerator),
    Path(snakemake.output.embeddings),
    Path(snakemake.output.backbone),
    threads=snakemake.threads,
    log_dir=Path(snakemake.log.metrics),
)
