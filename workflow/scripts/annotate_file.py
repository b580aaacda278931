"""Check a Label Studio export dropped in annotations/ and turn it into the round's labels."""

import json
from pathlib import Path

from bps_labeler import logs
from bps_labeler.annotations import load_export, resolve, write_records
from bps_labeler.errors import InputError
from bps_labeler.selection import read_selected
from bps_labeler.split import split_filenames

logs.to_file(snakemake.log[0])
inputs = snakemake.input
if "selection" in inputs.keys():
    filenames = read_selected(Path(inputs.selection))
else:
    filenames = split_filenames(Path(inputs.split), "val")
export = Path(inputs.export)
labels, report = resolve(load_export(export), str(export), filenames, tuple(snakemake.params.categories))
if report["unlabeled"]:
    raise InputError(
        f"{export}: {len(report['unlabeled'])} of the {len(filenames)} images to label have no "
        f"label, e.g. {report['unlabeled'][:3]}. Label them and export again."
    )
report["export"] = str(export)
write_records(labels, Path(snakemake.output.annotations))
Path(snakemake.output.report).write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
