"""Have a round's (or the validation) images labeled in Label Studio and export JSON-MIN."""

import json
import logging
from pathlib import Path

from bps_labeler import logs
from bps_labeler.annotations import keep_export, read_truth, resolve, write_records
from bps_labeler.labelstudio import LabelStudioSpec, collect_labels
from bps_labeler.lightly_metadata import metadata_table
from bps_labeler.predictions import read_predictions
from bps_labeler.selection import read_selected
from bps_labeler.split import split_filenames

logs.to_file(snakemake.log[0])
inputs = snakemake.input
categories = tuple(snakemake.params.categories)
if "selection" in inputs.keys():
    round_ = int(snakemake.wildcards.round)
    filenames = read_selected(Path(inputs.selection))
else:
    round_ = None
    filenames = split_filenames(Path(inputs.split), "val")
meta = metadata_table(Path(inputs.metadata)).loc[filenames]
extra = {n: {**{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()},
             "round": round_ if round_ is not None else "validation"} for n, row in meta.iterrows()}
predictions = None
preds = inputs.get("predictions", [])
if preds:
    probs = read_predictions(Path(preds[0]), filenames)
    predictions = {n: (categories[int(p.argmax())], float(p.max())) for n, p in zip(filenames, probs)}
records, url = collect_labels(
    LabelStudioSpec(**snakemake.params.spec),
    snakemake.params.project,
    filenames,
    Path(snakemake.params.image_dir),
    categories,
    resume_command=snakemake.params.resume,
    extra=extra,
    predictions=predictions,
    model_version=f"round_{round_ - 1}" if round_ and round_ > 1 else "",
    truth=read_truth(Path(inputs.truth)) if "truth" in inputs.keys() else None,
)
kept = keep_export(records, Path(snakemake.params.backup))
labels, report = resolve(records, url, filenames, categories)
report.update(project_url=url, export=str(kept))
logging.info("labels: %d of %d; unlabeled %s; disagreements %s", report["n_labeled"], len(filenames),
             report["unlabeled"], report["disagreements"])
write_records(labels, Path(snakemake.output.annotations))
Path(snakemake.output.report).write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
