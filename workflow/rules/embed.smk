# Self-supervised embeddings of the training pool.


rule embed:
    input:
        images=IMAGES,
        split="results/data/split.csv",
        # a brought backbone: a changed file redoes the embedding
        weights=config["embed"]["weights"] or [],
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
        # SimCLR holds its training sample in memory; the rest is embedded a chunk at a time
        mem_mb=lambda wildcards, input: megabytes(simclr_sample(train_rows(input.split))),
        # SimCLR's epochs over its sample, then every image of the pool embedded once
        runtime=lambda wildcards, input, attempt: minutes(
            embed_seconds(train_rows(input.split)),
            attempt,
        ),
        gpu=GPUS,
    params:
        image_dir=image_dir,
        embed=embed_params(),
        seed=config["seed"],
        accelerator=config["accelerator"],
    script:
        "../scripts/embed.py"
