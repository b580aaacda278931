# Labels for each round's selection, and for the validation images.


rule annotate:
    input:
        selection="results/round_{round}/selection.json",
        truth=config["annotation"]["oracle"]["truth"],
    output:
        annotations="results/round_{round}/annotations.json",
    params:
        image_root=IMAGES,
        noise=config["annotation"]["oracle"]["noise"],
        seed=config["seed"],
    log:
        "logs/round_{round}/annotate.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/annotate_oracle.py"


rule annotate_validation:
    input:
        split="results/data/split.csv",
        truth=config["annotation"]["oracle"]["truth"],
    output:
        annotations=validation_annotations(),
    params:
        image_root=IMAGES,
        noise=config["annotation"]["oracle"]["noise"],
        seed=config["seed"],
    log:
        "logs/annotate_validation.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/annotate_oracle.py"
