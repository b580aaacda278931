"""Draw a round's pictures for the report: embedding maps, the picks, the images left out, confusion."""

import json
from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.lightly_metadata import metadata_table
from bps_labeler.embeddings.io import read_embeddings
from bps_labeler.labeling.annotations import read_labels
from bps_labeler.models.predictions import read_predictions
from bps_labeler.report.figures import (
    confusion_figure,
    disagreement_items,
    embedding_map_figure,
    gallery_figure,
    left_out,
    map_coordinates,
)
from bps_labeler.report.interactive_map import map_records, spec, write_page
from bps_labeler.selection.scores import active_learning_scores
from bps_labeler.workflow.tracking import job_run

round_ = int(snakemake.wildcards.round)
categories = tuple(snakemake.params.categories)
image_dir = Path(snakemake.input.images)
names, embeddings = read_embeddings(Path(snakemake.input.embeddings))
metadata = metadata_table(Path(snakemake.input.metadata))

selections = [json.loads(Path(p).read_text()) for p in [*snakemake.input.earlier, snakemake.input.selection]]
picked = {s["filename"]: sel["round"] for sel in selections for s in sel["selected"]}
labels = {}
for path in snakemake.input.annotations:
    labels.update(read_labels(Path(path), categories))
people = dict(labels)
labels.update(read_labels(Path(snakemake.input.known), categories))  # the rule's, beside people's

probs = read_predictions(Path(snakemake.input.predictions), names)
track = pd.Series(probs[:, categories.index(categories[0])], index=names)
entropy = pd.Series(active_learning_scores(probs)["uncertainty_entropy"], index=names)

coords = map_coordinates(names, embeddings, set(picked), snakemake.params.seed)
embedding_map_figure(
    coords, picked, labels, metadata["particle_type"], entropy, round_, Path(snakemake.output.map), categories
)


def short(name: str) -> str:
    """The well and field part of a BPS file name (P242_73668807145-A11_007_015_proj.jpg: A11_007_015)."""
    return name.split("-")[-1].removesuffix(".jpg").removesuffix("_proj")


def condition(name: str) -> str:
    m = metadata.loc[name]
    return f"{m['particle_type']} {m['dose_Gy']:g} Gy {m['hr_post_exposure']} h"


this = selections[-1]
items = []
for s in this["selected"]:
    n = s["filename"]
    chose = ", ".join(
        f"{k.removeprefix('uncertainty_')} {v:.2f}" for k, v in s["scores"].items() if k.endswith("entropy")
    )
    items.append(
        {
            "filename": n,
            "caption": [
                f"#{s['rank']} {short(n)}",
                condition(n),
                f"label: {people.get(n, '?')}",
                f"model: {track[n]:.2f} {categories[0]}",
                f"chosen by: {chose or 'diversity'}",
            ],
        }
    )
gallery_figure(
    items, image_dir, f"Round {round_}: the {len(items)} images picked for labeling", Path(snakemake.output.picks)
)

out = left_out(metadata.loc[[n for n in names if n in metadata.index]], this["config"])
shown = out[:40]
gallery_figure(
    [{"filename": n, "caption": [short(n), condition(n), why]} for n, why in shown],
    image_dir,
    f"Round {round_}: {len(out)} pool image(s) left out by the quality thresholds"
    + (f" (first {len(shown)} shown)" if len(out) > len(shown) else ""),
    Path(snakemake.output.left_out),
)

confusion_figure(json.loads(Path(snakemake.input.metrics).read_text()), Path(snakemake.output.confusion))

# where people who labeled the same image differ, each person's answer (the validation set and
# rounds 1..r); the kappa of each pair in the title
items, kappas = disagreement_items(
    [(Path(p).parent.name, json.loads(Path(p).read_text())) for p in snakemake.input.people]
)
gallery_figure(
    items[:40],
    image_dir,
    f"Round {round_}: {len(items)} image(s) on which labelers differ"
    + (" (first 40 shown)" if len(items) > 40 else "")
    + ("\n" + "; ".join(kappas[:4]) if kappas else "\nno image labeled by two people"),
    Path(snakemake.output.disagreements),
)

records = map_records(
    coords,
    picked,
    labels,
    {n: condition(n) for n in coords.index if n in metadata.index},
    metadata["particle_type"],
    track,
    entropy,
    image_dir,
)
title = f"Round {round_}: the pool in two dimensions (t-SNE of the embeddings); hover a point for its image"
write_page(spec(records, title), Path(snakemake.output.map_html))

with job_run(snakemake) as run:  # the round's pictures as artefacts, where tracking.loggers asks
    run.log_pictures(Path(p) for p in snakemake.output if p.endswith(".png"))
