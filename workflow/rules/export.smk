# A round's model people can take away: the network as a torch.export program, its input recipe
# and a model card; `bps-labeler predict` runs it on TIFFs or JPGs (docs/outputs.md).


rule export_model:
    input:
        model="results/round_{round}/model.ckpt",
        metrics="results/round_{round}/metrics.json",
        backbone="results/embeddings/backbone.pt",
    output:
        program="results/round_{round}/export/model.pt2",
        recipe="results/round_{round}/export/model.json",
        card=report(
            "results/round_{round}/export/MODEL_CARD.md",
            caption="../report/model_card.rst",
            category="Rounds",
            subcategory="Round {round}",
            labels={"figure": "model card"},
        ),
    log:
        "logs/round_{round}/export_model.log",
    localrule: True
    conda:
        CONDA_ENV
    params:
        convert=config["convert"],
        config=config,
    script:
        "../scripts/export_model.py"
