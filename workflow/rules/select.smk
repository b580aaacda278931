# Active-learning selection of each round's images (lightly-mundig, offline).


rule select:
    input:
        embeddings="results/embeddings/embeddings.csv",
        metadata="results/data/metadata",
        meta="results/data/filtered_meta.csv",
        earlier=earlier_selections,
        predictions=previous_predictions,
    output:
        selection=report(
            "results/round_{round}/selection.json",
            caption="../report/selection.rst",
            category="Rounds",
            subcategory="Round {round}",
        ),
    log:
        "logs/round_{round}/select.log",
    benchmark:
        "logs/benchmarks/round_{round}/select.tsv"
    # with the model and predictions it follows (train.smk)
    group:
        lambda wildcards: f"round_{int(wildcards.round) - 1}"
    conda:
        CONDA_ENV
    resources:
        mem_mb=lambda wildcards, input: megabytes(rows(input.meta), base=2000),
        runtime=lambda wildcards, input, attempt: minutes(
            rows(input.meta) * SECONDS_PER_IMAGE["select"], attempt
        ),
    params:
        config=lambda wildcards: selection_config(wildcards.round),
        categories=config["annotation"]["categories"],
        store=str(STORE),
        # images whose condition decides the label are never worth a person's label
        known_answers=config["known_answers"],
    script:
        "../scripts/select.py"
