# Self-supervised embeddings of the training pool.


rule embed:
    input:
        images=IMAGE_MANIFEST,
        split="results/data/split.csv",
    output:
        embeddings="results/embeddings/embeddings.csv",
        backbone="results/embeddings/backbone.pt",
    params:
        image_dir=image_dir,
        embed=config["embed"],
        seed=config["seed"],
        accelerator=config["accelerator"],
    threads: 8
    resources:
        mem_mb=8000,
    log:
        "logs/embed.log",
        metrics=directory("logs/embed_metrics"),
    conda:
        CONDA_ENV
    script:
        "../scripts/embed.py"
