# The pictures of `snakemake --report report.html`: per round the embedding map, the picks, the
# images the quality thresholds left out and the confusion matrices; over rounds the learning curve.


rule report_round:
    input:
        selection="results/round_{round}/selection.json",
        earlier=earlier_selections,
        annotations=round_annotations,
        known="results/data/known_answers.json",
        predictions="results/round_{round}/predictions",
        embeddings="results/embeddings/embeddings.csv",
        metadata="results/data/metadata",
        images=IMAGES,
        metrics="results/round_{round}/metrics.json",
        people=people_reports,
    output:
        map=report(
            "results/round_{round}/report/embedding_map.png",
            caption="../report/embedding_map.rst",
            category="Rounds",
            subcategory="Round {round}",
            labels={"figure": "embedding map"},
        ),
        picks=report(
            "results/round_{round}/report/picks.png",
            caption="../report/picks.rst",
            category="Rounds",
            subcategory="Round {round}",
            labels={"figure": "picked images"},
        ),
        left_out=report(
            "results/round_{round}/report/left_out.png",
            caption="../report/left_out.rst",
            category="Rounds",
            subcategory="Round {round}",
            labels={"figure": "left out by the thresholds"},
        ),
        map_html=report(
            "results/round_{round}/report/embedding_map.html",
            caption="../report/embedding_map_html.rst",
            category="Rounds",
            subcategory="Round {round}",
            labels={"figure": "embedding map, interactive"},
        ),
        confusion=report(
            "results/round_{round}/report/confusion.png",
            caption="../report/confusion.rst",
            category="Rounds",
            subcategory="Round {round}",
            labels={"figure": "confusion matrices"},
        ),
        disagreements=report(
            "results/round_{round}/report/disagreements.png",
            caption="../report/disagreements.rst",
            category="Rounds",
            subcategory="Round {round}",
            labels={"figure": "where people disagree"},
        ),
    log:
        "logs/round_{round}/report_round.log",
    group:
        "round_{round}"
    conda:
        CONDA_ENV
    resources:
        mem_mb=lambda wildcards, input: megabytes(0, base=2000),
        runtime=lambda wildcards, input, attempt: minutes(60, attempt),
    params:
        categories=config["annotation"]["categories"],
        seed=config["seed"],
    script:
        "../scripts/report_round.py"


rule report_learning_curve:
    input:
        csv="results/learning_curve.csv",
    output:
        png=report(
            "results/report/learning_curve.png",
            caption="../report/learning_curve.rst",
            category="Learning curve",
            labels={"figure": "learning curve"},
        ),
    log:
        "logs/report_learning_curve.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        "../scripts/report_curve.py"
