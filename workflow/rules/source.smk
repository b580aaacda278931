# Where meta.csv and the raw TIFFs come from.


if config["source"]["kind"] == "synthetic":

    rule synthesize:
        output:
            meta="resources/raw/meta.csv",
            truth=config["annotation"]["oracle"]["truth"],
        params:
            n_images=config["source"]["synthetic"]["n_images"],
            artefact_fraction=config["source"]["synthetic"]["artefact_fraction"],
            seed=config["seed"],
        log:
            "logs/synthesize.log",
        conda:
            CONDA_ENV
        script:
            "../scripts/synthesize.py"
