# Labels for each round's selection and for the validation images, from one of three backends:
#   oracle       the synthetic dataset's hidden truth (tests, demos)
#   labelstudio  people label in a Label Studio server; the export is kept in the label store
#   file         people's Label Studio export, dropped in the label store (annotations/)
# People's exports and the selections they were given live in the label store, annotations/,
# which no rule writes as an output: Snakemake cannot delete them (src/bps_labeler/labeling/store.py).
# results/*/annotations.json are derived from the store and can always be rebuilt.

BACKEND = config["annotation"]["backend"]


if BACKEND == "oracle":

    rule annotate:
        input:
            selection="results/round_{round}/selection.json",
            truth=config["annotation"]["oracle"]["truth"],
        output:
            annotations="results/round_{round}/annotations.json",
        log:
            "logs/round_{round}/annotate.log",
        localrule: True
        conda:
            CONDA_ENV
        params:
            image_root=IMAGES,
            noise=config["annotation"]["oracle"]["noise"],
            seed=config["seed"],
        script:
            "../scripts/annotate_oracle.py"

    rule annotate_validation:
        input:
            split="results/data/split.csv",
            truth=config["annotation"]["oracle"]["truth"],
        output:
            annotations=validation_annotations(),
        log:
            "logs/annotate_validation.log",
        localrule: True
        conda:
            CONDA_ENV
        params:
            image_root=IMAGES,
            noise=0.0,  # the yardstick stays true: noise simulates the labelers of rounds only
            seed=config["seed"],
        script:
            "../scripts/annotate_oracle.py"

else:

    if BACKEND == "labelstudio":

        # Checkpoints: the export they leave in the store is the input of `annotate`, known only
        # once people are done. The server URL, timeouts and polling are read from the config by
        # the script, not passed as params, so changing them never redoes a labeled round.
        checkpoint labelstudio:
            input:
                unpack(labelstudio_inputs),
                selection="results/round_{round}/selection.json",
            output:
                receipt="results/round_{round}/labelstudio.json",
            log:
                "logs/round_{round}/labelstudio.log",
            localrule: True
            conda:
                CONDA_ENV
            resources:
                labelstudio=1,
            params:
                store=str(STORE),
                set=lambda wildcards: set_name(int(wildcards.round)),
                project=config["annotation"]["labelstudio"]["project"],
                categories=config["annotation"]["categories"],
                image_dir=image_dir,
            script:
                "../scripts/annotate_labelstudio.py"

        checkpoint labelstudio_validation:
            input:
                unpack(labelstudio_inputs),
                split="results/data/split.csv",
            output:
                receipt="results/validation/labelstudio.json",
            log:
                "logs/labelstudio_validation.log",
            # when both are ready, people get the validation images first (docs/labeling.md)
            priority: 1
            localrule: True
            conda:
                CONDA_ENV
            resources:
                labelstudio=1,
            params:
                store=str(STORE),
                set=set_name(None),
                project=config["annotation"]["labelstudio"]["validation_project"],
                categories=config["annotation"]["categories"],
                image_dir=image_dir,
            script:
                "../scripts/annotate_labelstudio.py"

    if BACKEND == "file":

        # Checkpoints: the set is recorded in the store when it is handed out, and the run stops
        # there, naming where people's export goes, until it is in the store.
        checkpoint handout:
            input:
                selection="results/round_{round}/selection.json",
                known="results/data/known_answers.json",
            output:
                receipt="results/round_{round}/handout.json",
            log:
                "logs/round_{round}/handout.log",
            localrule: True
            conda:
                CONDA_ENV
            params:
                store=str(STORE),
                set=lambda wildcards: set_name(int(wildcards.round)),
                categories=config["annotation"]["categories"],
                image_dir=IMAGES,
            script:
                "../scripts/handout.py"

        checkpoint handout_validation:
            input:
                split="results/data/split.csv",
                known="results/data/known_answers.json",
            output:
                receipt="results/validation/handout.json",
            log:
                "logs/handout_validation.log",
            priority: 1
            localrule: True
            conda:
                CONDA_ENV
            params:
                store=str(STORE),
                set=set_name(None),
                categories=config["annotation"]["categories"],
                image_dir=IMAGES,
            script:
                "../scripts/handout.py"

    rule annotate:
        input:
            selection="results/round_{round}/selection.json",
            export=people_export,
            known="results/data/known_answers.json",
        output:
            annotations="results/round_{round}/annotations.json",
            report="results/round_{round}/annotation_report.json",
        log:
            "logs/round_{round}/annotate.log",
        localrule: True
        conda:
            CONDA_ENV
        params:
            store=str(STORE),
            set=lambda wildcards: set_name(int(wildcards.round)),
            image_root=IMAGES,
        script:
            "../scripts/annotate_store.py"

    rule annotate_validation:
        input:
            split="results/data/split.csv",
            export=people_export,
            known="results/data/known_answers.json",
        output:
            annotations=validation_annotations(),
            report="results/validation/annotation_report.json",
        log:
            "logs/annotate_validation.log",
        localrule: True
        conda:
            CONDA_ENV
        params:
            store=str(STORE),
            set=set_name(None),
            image_root=IMAGES,
        script:
            "../scripts/annotate_store.py"
