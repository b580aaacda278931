# A round's model applied to every image of the configured scope, in a fixed number of shards,
# and the per-condition readout: how many nuclei the model calls a track, corrected for its
# mistakes on the validation images (docs/readout.md).


rule infer:
    input:
        model="results/round_{round}/model.ckpt",
        meta="results/data/filtered_meta.csv",
        split="results/data/split.csv",
        images=IMAGES,
        known="results/data/known_answers.json",
    output:
        answers="results/round_{round}/inference/shards/{shard}.csv",
    log:
        "logs/round_{round}/infer/{shard}.log",
    benchmark:
        "logs/benchmarks/round_{round}/infer/{shard}.tsv"
    conda:
        CONDA_ENV
    threads: 8
    resources:
        mem_mb=lambda wildcards, input: megabytes(rows(input.meta) / INFER_SHARDS),
        runtime=lambda wildcards, input, attempt: minutes(
            rows(input.meta) / INFER_SHARDS * SECONDS_PER_IMAGE["predict"], attempt
        ),
        gpu=GPUS,
    params:
        image_dir=image_dir,
        scope=config["inference"]["scope"],
        shards=INFER_SHARDS,
    script:
        "../scripts/infer.py"


rule answers:
    input:
        shards=expand(
            "results/round_{{round}}/inference/shards/{shard}.csv",
            shard=range(INFER_SHARDS),
        ),
    output:
        answers="results/round_{round}/inference/answers.csv",
    log:
        "logs/round_{round}/answers.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        "../scripts/answers.py"


rule readout:
    input:
        answers="results/round_{round}/inference/answers.csv",
        validation="results/round_{round}/validation.csv",
        meta="results/data/filtered_meta.csv",
    output:
        csv=report(
            "results/round_{round}/inference/readout.csv",
            caption="../report/readout.rst",
            category="Readout",
            subcategory="Round {round}",
            labels={"figure": "readout table"},
        ),
        png=report(
            "results/round_{round}/inference/readout.png",
            caption="../report/readout.rst",
            category="Readout",
            subcategory="Round {round}",
            labels={"figure": "readout"},
        ),
    log:
        "logs/round_{round}/readout.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        positive=config["annotation"]["categories"][0],
        seed=config["seed"],
    script:
        "../scripts/readout.py"


# The last round's readout where DVC looks for metrics (dvc.yaml): `dvc metrics show`, `dvc metrics diff`.
rule readout_metrics:
    input:
        csv=lambda wildcards: f"results/round_{config['rounds']}/inference/readout.csv",
    output:
        metrics="results/readout.json",
    log:
        "logs/readout_metrics.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        round=config["rounds"],
    script:
        "../scripts/readout_metrics.py"
