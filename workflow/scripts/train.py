"""Fine-tune the classifier on the labels of rounds 1..r; score it and its baselines on validation."""

from pathlib import Path

from bps_labeler import logs
from bps_labeler.annotations import read_labels
from bps_labeler.classifier import TrainSpec, metrics, predict_proba, train, write_metrics
from bps_labeler.evaluation import majority_class, with_baselines
from bps_labeler.known_answers import read_known, rule_probabilities

logs.to_file(snakemake.log[0])
categories = tuple(snakemake.params.categories)
labels = {}
for path in snakemake.input.annotations:
    labels.update(read_labels(Path(path), categories))
model = train(
    Path(snakemake.params.image_dir),
    labels,
    Path(snakemake.input.backbone),
    categories,
    TrainSpec(**snakemake.params.train, seed=snakemake.params.seed, accelerator=snakemake.params.accelerator),
    Path(snakemake.output.model),
    threads=snakemake.threads,
    log_dir=Path(snakemake.log.metrics),
)
val = read_labels(Path(snakemake.input.validation), categories)
names = sorted(val)
probs = predict_proba(model, Path(snakemake.params.image_dir), names, threads=snakemake.threads)
positive = categories[0]
result = metrics(probs, [categories.index(val[n]) for n in names], categories, positive)
known = read_known(Path(snakemake.input.meta), snakemake.params.known_answers).reindex(names)
result.update(
    round=int(snakemake.wildcards.round),
    n_labels=len(labels),
    labels_per_class={c: sum(v == c for v in labels.values()) for c in categories},
    baselines=with_baselines(names, probs, val, known, rule_probabilities(known, categories, positive),
                             majority_class(labels, categories), categories, positive),
)
write_metrics(result, Path(snakemake.output.metrics))
