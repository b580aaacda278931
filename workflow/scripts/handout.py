"""Hand a round's (or the validation) images to people who label outside the pipeline.

The `file` backend's counterpart of the Label Studio checkpoint: the set is recorded in the label
store when it is handed out, and the run stops here, saying where the export goes, until it is
there.
"""

import json
from pathlib import Path

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.labeling.annotations import read_labels
from bps_labeler.labeling.store import export_path, hand_out, set_images

store = Path(snakemake.params.store)
name = snakemake.params.set
known = read_labels(Path(snakemake.input.known), tuple(snakemake.params.categories))
inputs = snakemake.input
selection, filenames = set_images(inputs.get("selection"), Path(inputs.get("split", "")), store, known)
hand_out(name, filenames, "file", selection, snakemake.params.image_dir, store)
receipt = {"set": name, "export": str(export_path(name, store))}
Path(snakemake.output.receipt).write_text(json.dumps(receipt, indent=1, sort_keys=True) + "\n")
