"""Predict the whole training pool and write Lightly's prediction format."""

from pathlib import Path

from bps_labeler import logs
from bps_labeler.classifier import load, predict_proba
from bps_labeler.predictions import write_predictions
from bps_labeler.split import split_filenames

logs.to_file(snakemake.log[0])
filenames = split_filenames(Path(snakemake.input.split), "train")
model = load(Path(snakemake.input.model))
probs = predict_proba(model, Path(snakemake.params.image_dir), filenames, threads=snakemake.threads)
write_predictions(Path(snakemake.output.predictions), filenames, probs, tuple(model.hparams.categories))
