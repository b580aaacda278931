"""A round's (or the validation) labels, derived from people's export in the label store.

The export is checked against the images people were given; the first time it is complete the
store records that selection, so that it is never chosen again.
"""

import json
import logging
from pathlib import Path

from bps_labeler import logs
from bps_labeler.annotations import load_export, resolve, write_records
from bps_labeler.errors import InputError
from bps_labeler.store import give, set_images

logs.to_file(snakemake.log[0])
inputs = snakemake.input
annotation = snakemake.config["annotation"]
store = Path(snakemake.params.store)
name = snakemake.params.set
selection, filenames = set_images(inputs.get("selection"), Path(inputs.get("split", "")), store)
export = Path(inputs.export)
labels, report = resolve(load_export(export), str(export), filenames, tuple(annotation["categories"]))
# the export belongs to these images: from now on they are the round's, complete or not
kept = give(name, filenames, annotation["backend"], annotation["labelstudio"]["simulate"],
            selection=selection, store=store)
if report["unlabeled"]:
    raise InputError(
        f"{export}: {len(report['unlabeled'])} of the {len(filenames)} images to label have no "
        f"label, e.g. {report['unlabeled'][:3]}. Label them and export again (skipped images "
        "count as done in a full JSON export)."
    )
report.update(export=str(export), labeler=kept.labeler, backend=kept.backend, given_at=kept.written_at,
              labeled_in=kept.where)
logging.info("%s: %d labels from %s (%d skipped, %d disagreements)", name, report["n_labeled"], export,
             len(report["skipped"]), len(report["disagreements"]))
write_records(labels, Path(snakemake.output.annotations))
Path(snakemake.output.report).write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
