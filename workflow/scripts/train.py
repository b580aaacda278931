"""Fine-tune the classifier on the labels of rounds 1..r and a sample of the rule's labels; score
it and its baselines on validation."""

import logging
from pathlib import Path

import pandas as pd

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.split import split_filenames
from bps_labeler.evaluation.baselines import majority_class, with_baselines
from bps_labeler.evaluation.learning_curve import figures
from bps_labeler.labeling.annotations import read_labels
from bps_labeler.labeling.known_answers import conflicts, rule_probabilities, training_sample
from bps_labeler.models.classifier import TrainSpec, train
from bps_labeler.models.conditions import by_image
from bps_labeler.models.metrics import metrics, validation_table, write_metrics
from bps_labeler.models.network import predict_proba
from bps_labeler.workflow.tracking import job_run

categories = tuple(snakemake.params.categories)
settings = dict(snakemake.params.train)
n_rule = settings.pop("rule_labels")
settings["condition_features"] = tuple(settings.get("condition_features", ()))
# metadata indexed by image, where the head reads the condition (train.condition_features)
conditions = by_image(pd.read_csv(snakemake.input.meta)) if snakemake.input.get("meta") else None
people = {}
for path in snakemake.input.annotations:
    people.update(read_labels(Path(path), categories))
rule_labels = read_labels(Path(snakemake.input.known), categories)
train_side = split_filenames(Path(snakemake.input.split), "train")
clashes = conflicts(people, rule_labels)
for c in clashes:
    logging.warning(
        "%s: labeled %r by a person, %r by the rule; the person's label is kept", c["filename"], c["person"], c["rule"]
    )
from_rule = training_sample(rule_labels, train_side, n_rule, snakemake.params.seed)
labels = {**{k: v for k, v in from_rule.items() if k not in people}, **people}
logging.info("training on %d people's label(s) and %d of the rule's", len(people), len(labels) - len(people))
with job_run(snakemake) as run:  # W&B, MLflow, DVCLive where tracking.loggers asks for them
    model = train(
        Path(snakemake.params.image_dir),
        labels,
        Path(snakemake.input.backbone),
        categories,
        TrainSpec(**settings, seed=snakemake.params.seed, accelerator=snakemake.params.accelerator),
        Path(snakemake.output.model),
        threads=snakemake.threads,
        log_dir=Path(snakemake.log.metrics).parent,  # Lightning's CSVLogger writes metrics.csv there
        label_files=tuple(snakemake.input.annotations),
        trackers=run.trackers,
        conditions=conditions,
    )
    val = read_labels(Path(snakemake.input.validation), categories)
    names = sorted(val)
    probs = predict_proba(
        model, Path(snakemake.params.image_dir), names, threads=snakemake.threads, conditions=conditions
    )
    positive = categories[0]
    result = metrics(probs, [categories.index(val[n]) for n in names], categories, positive)
    # the label the condition decides, or missing where it does not (the undecided images)
    known = pd.Series([rule_labels.get(n) for n in names], index=names, dtype=object)
    result.update(
        round=int(snakemake.wildcards.round),
        n_labels=len(people),
        labels_per_class={c: sum(v == c for v in people.values()) for c in categories},
        # what the condition answered: the rule's labels trained on, and every known image of the
        # training side, none of which a person had to label
        n_rule_labels=len(labels) - len(people),
        n_known_train=sum(1 for n in train_side if n in rule_labels),
        rule_conflicts=clashes,
        baselines=with_baselines(
            names,
            probs,
            val,
            known,
            rule_probabilities(known, categories, positive),
            majority_class(people, categories),
            categories,
            positive,
        ),
    )
    write_metrics(result, Path(snakemake.output.metrics))
    validation_table(names, probs, val, known, categories).to_csv(snakemake.output.validation, index=False)
    # the validation figures beside the baselines, and the labels this round trained on
    run.log_figures(
        {**figures(result), "labels_per_class": result["labels_per_class"], "n_rule_labels": result["n_rule_labels"]}
    )
