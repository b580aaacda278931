# meta.csv -> filtered rows -> 8-bit JPGs (in shards) -> Lightly metadata -> train/val split.


rule filter_meta:
    input:
        meta=raw_meta(),
    output:
        meta="results/data/filtered_meta.csv",
    log:
        "logs/filter_meta.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        filter=config["filter"],
    script:
        "../scripts/filter_meta.py"


rule convert:
    input:
        unpack(raw_tiffs()),
        meta="results/data/filtered_meta.csv",
        downloaded=download_manifest(),
    output:
        manifest="results/data/shards/convert_{shard}.tsv",
        # gathered into one folder by `images`, then deleted
        images=temp(directory("results/data/shards/images_{shard}")),
    log:
        "logs/convert/{shard}.log",
    benchmark:
        "logs/benchmarks/convert/{shard}.tsv"
    conda:
        CONDA_ENV
    threads: config["convert"]["threads"]
    resources:
        # Numba compiling the conversion's loops on a machine's first run peaks at 780 MB
        mem_mb=1500,
        runtime=lambda wildcards, input, attempt: minutes(
            rows(input.meta) / len(SHARDS) * SECONDS_PER_IMAGE["convert"], attempt
        ),
    params:
        src_dir=raw_dir(),
        n_shards=config["convert"]["shards"],
        # how the images look, not how many threads make them: changing threads redoes nothing
        convert={k: v for k, v in config["convert"].items() if k != "threads"},
    script:
        "../scripts/convert.py"


rule images:
    input:
        manifests=expand("results/data/shards/convert_{shard}.tsv", shard=SHARDS),
        shards=expand("results/data/shards/images_{shard}", shard=SHARDS),
    output:
        images=directory(IMAGES),
    log:
        "logs/images.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        "../scripts/merge_manifests.py"


rule metadata:
    input:
        meta="results/data/filtered_meta.csv",
        images=IMAGES,
    output:
        directory("results/data/metadata"),
    log:
        "logs/metadata.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        "../scripts/metadata.py"


rule split:
    input:
        meta="results/data/filtered_meta.csv",
    output:
        split="results/data/split.csv",
    log:
        "logs/split.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        split=config["split"],
        seed=config["seed"],
        store=str(STORE),
    script:
        "../scripts/split.py"


# The labels the condition decides (X-ray and sham images have no tracks): JSON-MIN records with
# annotator "rule", used beside people's labels, never sent to them.
rule known_answers:
    input:
        meta="results/data/filtered_meta.csv",
    output:
        known="results/data/known_answers.json",
    log:
        "logs/known_answers.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        known_answers=config["known_answers"],
        image_root=IMAGES,
    script:
        "../scripts/known_answers.py"
