"""A round's (or the validation) labels, derived from people's export in the label store.

The export is checked against the images people were given; the first time it is complete the
store records that selection, so that it is never chosen again. Validation images whose condition
decides the label were not given to people: the rule's records stand for them.
"""

import json
import logging
from pathlib import Path

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.split import split_filenames
from bps_labeler.errors import InputError
from bps_labeler.labeling.agreement import agreement
from bps_labeler.labeling.annotations import (
    NotInSelection,
    filename_of,
    is_full_export,
    load_export,
    resolve,
    run_image_folders,
    unlabeled_message,
    write_records,
)
from bps_labeler.labeling.known_answers import conflicts
from bps_labeler.labeling.store import give, given_path, read_given, set_images, title

inputs = snakemake.input
annotation = snakemake.config["annotation"]
categories = tuple(annotation["categories"])
store = Path(snakemake.params.store)
name = snakemake.params.set
rule_records = load_export(Path(inputs.known))  # written by the pipeline, one per known image
rule_labels = {filename_of(r["image"]): r["choice"] for r in rule_records}
selection, filenames = set_images(inputs.get("selection"), Path(inputs.get("split", "")), store, rule_labels)
export = Path(inputs.export)
val = set(split_filenames(Path(inputs.split), "val")) if selection is None else set()
# people may have labeled validation images the rule answers (or answered when the set was handed
# out, before known_answers changed): their labels are kept
optional = sorted(val - set(filenames))
# a label counts only for this run's file: the same name in another dataset or bucket is refused
folders = run_image_folders(
    snakemake.params.image_root, snakemake.config["datasource"]["uri"], annotation["image_folders"]
)
records = load_export(export)
try:
    labels, report = resolve(
        records,
        str(export),
        filenames,
        categories,
        optional,
        folders,
        what="this round's selection" if selection is not None else "the validation set",
    )
except NotInSelection as err:
    if selection is None or read_given(given_path(name, store)) is not None:
        raise
    # nothing is recorded yet: the export may be of the selection people were given before the
    # selection config changed; say how to get it back rather than record the new one
    raise InputError(
        f"{err} Nothing is recorded for {title(name)} yet, so the selection can still be changed: "
        f"if people labeled an earlier selection of it, restore the selection config it was made "
        f"with and rerun (results/{name}/selection.json is made again from the config)."
    ) from None
# the export belongs to these images: from now on they are the round's, complete or not
kept = give(
    name, filenames, annotation["backend"], annotation["labelstudio"]["simulate"], selection=selection, store=store
)
if report["unlabeled"]:
    raise InputError(unlabeled_message(export, report["unlabeled"], len(filenames), is_full_export(export)))
# a person who contradicts the rule is kept, and reported: the rule may be wrong for this data
by_people = {filename_of(r["image"]): r["choice"] for r in labels}
# where several people labeled an image: how far they agree (the ceiling for any model)
report["agreement"] = agreement(records, by_people, categories)
report["rule_conflicts"] = conflicts(by_people, rule_labels)
for c in report["rule_conflicts"]:
    logging.warning(
        "%s: labeled %r by a person, %r by the rule (known_answers); the person's label is kept",
        c["filename"],
        c["person"],
        c["rule"],
    )
if selection is None:
    by_rule = [r for r in rule_records if (f := filename_of(r["image"])) in val and f not in by_people]
    report["n_rule"] = len(by_rule)
    labels = labels + by_rule
    # every validation image has a label, or the yardstick shrank without a word (known_answers
    # emptied after the set was handed out left the rule's images with none)
    answered = set(by_people) | {filename_of(r["image"]) for r in by_rule} | set(report["skipped"])
    missing = sorted(val - answered)
    if missing:
        raise InputError(
            f"{len(missing)} of the {len(val)} validation images have no label, e.g. {missing[:3]}: people "
            f"were not given them ({given_path(name, store)}) and known_answers does not answer them "
            "(known_answers or the split changed since). Every round is scored on the same validation "
            f"images: restore known_answers and split, or have people label them and add their records to "
            f"{export}."
        )
    logging.info("%s: %d image(s) answered by their condition, not given to people", name, len(by_rule))
report.update(
    export=str(export), labeler=kept.labeler, backend=kept.backend, given_at=kept.written_at, labeled_in=kept.where
)
logging.info(
    "%s: %d labels from %s (%d skipped, %d disagreements)",
    name,
    report["n_labeled"],
    export,
    len(report["skipped"]),
    len(report["disagreements"]),
)
for pair in report["agreement"]["pairs"]:
    logging.info(
        "labelers %s and %s: %s of %d shared images alike, Cohen's kappa %s",
        *pair["labelers"],
        pair["agreement"],
        pair["n_images"],
        pair["cohen_kappa"],
    )
write_records(labels, Path(snakemake.output.annotations))
Path(snakemake.output.report).write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
