# Publish the training set, its metadata and each round's predictions as a Lightly datasource.


rule publish_data:
    input:
        images=IMAGES,
        metadata="results/data/metadata",
        split="results/data/split.csv",
    output:
        marker="results/publish/data.json",
    log:
        "logs/publish_data.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        datasource=config["datasource"],
        image_dir=image_dir,
    script:
        "../scripts/publish.py"


rule publish_predictions:
    input:
        predictions="results/round_{round}/predictions",
        data="results/publish/data.json",
    output:
        marker="results/round_{round}/publish.json",
    log:
        "logs/round_{round}/publish.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        datasource=config["datasource"],
    script:
        "../scripts/publish.py"
