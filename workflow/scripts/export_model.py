"""Export a round's model with its input recipe and model card."""

import json
import logging
from pathlib import Path

from bps_labeler.workflow import logs

logs.to_file(snakemake.log[0])

from bps_labeler.data.convert import Stretch
from bps_labeler.embeddings.backbone import read_backbone
from bps_labeler.models.portable import card_facts, export_model

cfg = snakemake.params.convert
stretch = Stretch(cfg["stretch"], *cfg["percentiles"], quality=cfg["jpeg_quality"])
metrics = json.loads(Path(snakemake.input.metrics).read_text())
saved = read_backbone(Path(snakemake.input.backbone))
backbone = {"architecture": saved["backbone"], **saved.get("provenance", {"ssl": "scratch", "weights": None})}
card = card_facts(metrics, dict(snakemake.params.config), snakemake.input.model, backbone)
program = export_model(Path(snakemake.input.model), stretch, card, Path(snakemake.output.program).parent)
logging.info("exported %s", program)
