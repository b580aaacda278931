# Self-supervised embeddings of the training pool.


rule embed:
    input:
        images=IMAGES,
        split="results/data/split.csv",
    output:
        embeddings="results/embeddings/embeddings.csv",
        backbone="results/embeddings/backbone.pt",
    log:
        "logs/embed.log",
        # a file, not a folder: Snakemake shows the logs of a failed job and cannot show a folder
        metrics="logs/embed_metrics/metrics.csv",
    benchmark:
        "logs/benchmarks/embed.tsv"
    conda:
        CONDA_ENV
    threads: 8
    resources:
        mem_mb=lambda wildcards, input: megabytes(train_rows(input.split)),
        runtime=lambda wildcards, input, attempt: minutes(
            train_rows(input.split) * config["embed"]["epochs"] * SECONDS_PER_IMAGE["embed_epoch"],
            attempt,
        ),
        gpu=GPUS,
    params:
        image_dir=image_dir,
        embed=config["embed"],
        seed=config["seed"],
        accelerator=config["accelerator"],
    script:
        "../scripts/embed.py"
