# Labels for each round's selection and for the validation images, from one of three backends:
#   oracle       the synthetic dataset's hidden truth (tests, demos)
#   labelstudio  people label in a Label Studio server; the rule waits and exports JSON-MIN
#   file         a Label Studio export dropped at annotations/round_{r}.json
# Human labels are protected outputs: no rerun can delete or overwrite them.

BACKEND = config["annotation"]["backend"]


if BACKEND == "oracle":

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


elif BACKEND == "labelstudio":

    rule annotate:
        input:
            unpack(labelstudio_inputs),
            selection="results/round_{round}/selection.json",
        output:
            annotations=protected("results/round_{round}/annotations.json"),
            report="results/round_{round}/annotation_report.json",
        params:
            spec=config["annotation"]["labelstudio"],
            project=config["annotation"]["labelstudio"]["project"],
            categories=config["annotation"]["categories"],
            image_dir=image_dir,
            backup=lambda wildcards: f"annotations/round_{wildcards.round}.json",
            resume=lambda wildcards, output: f"snakemake --cores all {output.annotations}",
        resources:
            labelstudio=1,
        log:
            "logs/round_{round}/annotate.log",
        conda:
            CONDA_ENV
        script:
            "../scripts/annotate_labelstudio.py"

    rule annotate_validation:
        input:
            unpack(labelstudio_inputs),
            split="results/data/split.csv",
        output:
            annotations=protected(validation_annotations()),
            report="results/validation/annotation_report.json",
        params:
            spec=config["annotation"]["labelstudio"],
            project=config["annotation"]["labelstudio"]["validation_project"],
            categories=config["annotation"]["categories"],
            image_dir=image_dir,
            backup="annotations/validation.json",
            resume=lambda wildcards, output: f"snakemake --cores all {output.annotations}",
        resources:
            labelstudio=1,
        log:
            "logs/annotate_validation.log",
        conda:
            CONDA_ENV
        script:
            "../scripts/annotate_labelstudio.py"


else:

    rule annotate:
        input:
            selection="results/round_{round}/selection.json",
            export="annotations/round_{round}.json",
        output:
            annotations=protected("results/round_{round}/annotations.json"),
            report="results/round_{round}/annotation_report.json",
        params:
            categories=config["annotation"]["categories"],
        log:
            "logs/round_{round}/annotate.log",
        conda:
            CONDA_ENV
        script:
            "../scripts/annotate_file.py"

    rule annotate_validation:
        input:
            split="results/data/split.csv",
            export="annotations/validation.json",
        output:
            annotations=protected(validation_annotations()),
            report="results/validation/annotation_report.json",
        params:
            categories=config["annotation"]["categories"],
        log:
            "logs/annotate_validation.log",
        conda:
            CONDA_ENV
        script:
            "../scripts/annotate_file.py"
