"""Have a round's (or the validation) images labeled in Label Studio; keep the export in the store.

The images are recorded in the label store before any task is made, so the selection people
work on can never change under them; the export goes to the store when every task is done. A set
whose export is already there is history: Label Studio is not asked again.
"""

import json
import logging
from pathlib import Path

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.lightly_metadata import metadata_table
from bps_labeler.errors import InputError
from bps_labeler.labeling.annotations import read_labels, read_truth
from bps_labeler.labeling.labelstudio import LabelStudioSpec, collect_labels, task_data
from bps_labeler.labeling.s3_images import labeling_images
from bps_labeler.labeling.store import export_path, give, given_path, read_given, resume_hint, set_images, write_once
from bps_labeler.models.predictions import read_predictions
from bps_labeler.publish.datasource import Datasource, publish

inputs = snakemake.input
categories = tuple(snakemake.params.categories)
store = Path(snakemake.params.store)
name = snakemake.params.set
round_ = int(snakemake.wildcards.round) if "round" in snakemake.wildcards.keys() else None
# operational settings (server URL, timeouts) come from the config, not from params, so that
# changing them never makes Snakemake redo a labeled round
spec = LabelStudioSpec(**snakemake.config["annotation"]["labelstudio"])
# validation images whose condition decides the label are answered by the rule, not by people
known = read_labels(Path(inputs.known), categories)
selection, filenames = set_images(inputs.get("selection"), Path(inputs.get("split", "")), store, known)
export = export_path(name, store)
if export.exists():
    # people's export is already in the store (perhaps from before records were kept, or put
    # there by hand): it is the source, and the server is not asked again. A set without a
    # record is recorded by the annotate job, once the export is checked against the selection.
    kept = read_given(given_path(name, store))
    logging.info("%s is labeled (%s): Label Studio is not asked again", name, export)
    url = kept.where if kept is not None else ""
else:
    meta = metadata_table(Path(inputs.metadata)).loc[filenames]
    extra = {n: task_data(row.to_dict(), round_, spec.show_condition) for n, row in meta.iterrows()}
    # a server that shares no disk with the run reads the images from S3 (the datasource's
    # labeling/ folder), put there first
    s3 = labeling_images(spec.images, snakemake.config["datasource"])
    if s3 is not None:
        marker = Path(snakemake.log[0]).with_name(f"{Path(snakemake.log[0]).stem}.labeling_images.json")
        image_dir = Path(snakemake.params.image_dir)
        ds = Datasource(s3.uri(), s3.endpoint_url, s3.region)
        publish(ds, {n: image_dir / n for n in filenames}, f"labeling-{name}", marker)
    predictions = None
    preds = inputs.get("predictions", [])
    if preds:
        probs = read_predictions(Path(preds[0]), filenames)
        predictions = {n: (categories[int(p.argmax())], float(p.max())) for n, p in zip(filenames, probs)}
    tasks, url = collect_labels(
        spec,
        snakemake.params.project,
        filenames,
        Path(snakemake.params.image_dir),
        categories,
        resume_command=resume_hint(),
        extra=extra,
        predictions=predictions,
        model_version=f"round_{round_ - 1}" if round_ and round_ > 1 else "",
        truth=read_truth(Path(inputs.truth)) if "truth" in inputs.keys() else None,
        before_import=lambda url: give(
            name, filenames, "labelstudio", spec.simulate, selection=selection, where=url, store=store
        ),
        s3=s3,
        validation=round_ is None,
    )
    if not write_once(export, json.dumps(tasks, indent=1, sort_keys=True) + "\n"):
        raise InputError(
            f"{export} appeared while this job waited for labels, perhaps from another run; it is "
            f"kept as it is and this job's export of {url} was not saved. Check that file, then rerun."
        )
    logging.info("%d task(s) of %s exported to %s", len(tasks), url, export)
receipt = {"set": name, "export": str(export), "project_url": url}
Path(snakemake.output.receipt).parent.mkdir(parents=True, exist_ok=True)
Path(snakemake.output.receipt).write_text(json.dumps(receipt, indent=1, sort_keys=True) + "\n")
