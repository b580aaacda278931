# A round's model applied to every image of the configured scope, in a fixed number of shards,
# and the per-condition readout: how many nuclei the model calls a track, corrected for its
# mistakes on the validation images (docs/readout.md).


# Scope `all`: the images of meta.csv the filter left out, downloaded (S3) and converted for
# inference alone, in the inference's shards; the selection never sees them.
rule rest_meta:
    input:
        meta=raw_meta(),
        filtered="results/data/filtered_meta.csv",
    output:
        meta="results/data/rest/meta.csv",
    log:
        "logs/rest_meta.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        "../scripts/rest_meta.py"


if config["source"]["kind"] == "s3":

    rule download_rest:
        input:
            unpack(image_pins),
            meta="results/data/rest/meta.csv",
        output:
            manifest="resources/raw/rest/download_{shard}.tsv",
            tiffs=directory("resources/raw/rest/tiffs_{shard}"),
        log:
            "logs/download_rest/{shard}.log",
        benchmark:
            "logs/benchmarks/download_rest/{shard}.tsv"
        localrule: config["source"]["s3"]["download_local"]
        conda:
            CONDA_ENV
        threads: 4
        resources:
            mem_mb=1000,
            runtime=lambda wildcards, input, attempt: minutes(
                rows(input.meta) / INFER_SHARDS * SECONDS_PER_IMAGE["download"], attempt
            ),
        params:
            s3=config["source"]["s3"],
            n_shards=INFER_SHARDS,
            cache="resources/raw/cache",
        script:
            "../scripts/download.py"


rule convert_rest:
    input:
        unpack(raw_tiffs("resources/raw/rest")),
        meta="results/data/rest/meta.csv",
        downloaded=download_manifest("resources/raw/rest"),
    output:
        manifest="results/data/rest/convert_{shard}.tsv",
        images=directory("results/data/rest/images_{shard}"),
    log:
        "logs/convert_rest/{shard}.log",
    benchmark:
        "logs/benchmarks/convert_rest/{shard}.tsv"
    conda:
        CONDA_ENV
    threads: config["convert"]["threads"]
    resources:
        mem_mb=1500,
        runtime=lambda wildcards, input, attempt: minutes(
            rows(input.meta) / INFER_SHARDS * SECONDS_PER_IMAGE["convert"], attempt
        ),
    params:
        src_dir=raw_dir(),
        n_shards=INFER_SHARDS,
        convert={k: v for k, v in config["convert"].items() if k != "threads"},
    script:
        "../scripts/convert.py"


rule infer:
    input:
        **rest_inputs(),
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
        mem_mb=lambda wildcards, input: megabytes(inference_rows(input) / INFER_SHARDS),
        runtime=lambda wildcards, input, attempt: minutes(
            inference_rows(input) / INFER_SHARDS * SECONDS_PER_IMAGE["predict"], attempt
        ),
        gpu=GPUS,
    params:
        image_dir=image_dir,
        scope=config["inference"]["scope"],
        shards=INFER_SHARDS,
        known_answers=config["known_answers"],
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
