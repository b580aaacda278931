"""Train SimCLR on the training pool and write Lightly embeddings plus the backbone."""

from pathlib import Path

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.split import split_filenames
from bps_labeler.embeddings.simclr import EmbedSpec, train_embeddings
from bps_labeler.workflow.tracking import job_run

with job_run(snakemake) as run:  # W&B, MLflow, DVCLive where tracking.loggers asks for them
    train_embeddings(
        Path(snakemake.params.image_dir),
        split_filenames(Path(snakemake.input.split), "train"),
        EmbedSpec(**snakemake.params.embed, seed=snakemake.params.seed, accelerator=snakemake.params.accelerator),
        Path(snakemake.output.embeddings),
        Path(snakemake.output.backbone),
        threads=snakemake.threads,
        log_dir=Path(snakemake.log.metrics).parent,  # Lightning's CSVLogger writes metrics.csv there
        trackers=run.trackers,
    )
