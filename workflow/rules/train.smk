# Fine-tune the classifier on all labels so far, score it beside its baselines, predict the pool.


rule train:
    input:
        annotations=round_annotations,
        validation=validation_annotations(),
        backbone="results/embeddings/backbone.pt",
        images=IMAGES,
        known="results/data/known_answers.json",
        split="results/data/split.csv",
        meta=condition_meta,
    output:
        model="results/round_{round}/model.ckpt",
        metrics=report(
            "results/round_{round}/metrics.json",
            caption="../report/metrics.rst",
            category="Rounds",
            subcategory="Round {round}",
        ),
        validation="results/round_{round}/validation.csv",
    log:
        "logs/round_{round}/train.log",
        metrics="logs/round_{round}/train_metrics/metrics.csv",
    benchmark:
        "logs/benchmarks/round_{round}/train.tsv"
    # a round's model, its predictions and the next round's selection: one cluster job
    group:
        "round_{round}"
    conda:
        CONDA_ENV
    threads: 8
    resources:
        mem_mb=lambda wildcards, input: megabytes(train_rows(input.split)),
        runtime=lambda wildcards, input, attempt: minutes(
            train_rows(input.split) * SECONDS_PER_IMAGE["train"], attempt
        ),
        gpu=GPUS,
    params:
        image_dir=image_dir,
        categories=config["annotation"]["categories"],
        train=train_params(),
        seed=config["seed"],
        accelerator=config["accelerator"],
    script:
        "../scripts/train.py"


rule predict:
    input:
        model="results/round_{round}/model.ckpt",
        split="results/data/split.csv",
        images=IMAGES,
        known="results/data/known_answers.json",
        meta=condition_meta,
    output:
        predictions=directory("results/round_{round}/predictions"),
    log:
        "logs/round_{round}/predict.log",
    benchmark:
        "logs/benchmarks/round_{round}/predict.tsv"
    group:
        "round_{round}"
    conda:
        CONDA_ENV
    threads: 8
    resources:
        mem_mb=lambda wildcards, input: megabytes(train_rows(input.split)),
        runtime=lambda wildcards, input, attempt: minutes(
            train_rows(input.split) * SECONDS_PER_IMAGE["predict"], attempt
        ),
        gpu=GPUS,
    params:
        image_dir=image_dir,
    script:
        "../scripts/predict.py"


# Every round's figures in one table: `dvc metrics show` and `dvc plots show` read these.
rule learning_curve:
    input:
        metrics=lambda wildcards: [
            f"results/round_{r}/metrics.json" for r in range(1, config["rounds"] + 1)
        ],
    output:
        csv="results/learning_curve.csv",
        metrics="results/metrics.json",
    log:
        "logs/learning_curve.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        "../scripts/learning_curve.py"
