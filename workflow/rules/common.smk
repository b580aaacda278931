# Helpers and config validation shared by all rules.

import os
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# The Snakemake process itself imports the library's config checks from src/ (jobs find the
# library installed, or through the workflow/scripts/bps_labeler link on conda deployments).
_SRC = str(Path(workflow.basedir).parent / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

from bps_labeler.errors import InputError
from bps_labeler.selection_config import validate_config as _validate_selection

validate(config, schema="../schemas/config.schema.yaml")
for _i, _cfg in enumerate(config["selection"], start=1):
    try:
        _validate_selection(_cfg, where=f"config selection[{_i - 1}] (round {_i})")
    except InputError as _err:
        raise WorkflowError(str(_err)) from None
for _kind in ("local", "s3"):
    if config["source"]["kind"] == _kind and _kind not in config["source"]:
        raise WorkflowError(f"source.kind is '{_kind}' but source.{_kind} is not set.")


wildcard_constraints:
    round=r"[1-9][0-9]*",
    shard=r"[0-9]+",


CONDA_ENV = "../../envs/bps.yaml"
IMAGES = "results/data/images"
IMAGE_MANIFEST = f"{IMAGES}/manifest.tsv"
SHARDS = list(range(config["convert"]["shards"]))


def raw_dir():
    """Folder holding meta.csv and the TIFFs (downloaded there for an S3 source)."""
    if config["source"]["kind"] == "local":
        return config["source"]["local"]["path"]
    return "resources/raw"


def raw_meta():
    return os.path.join(raw_dir(), "meta.csv")


def download_manifest(wildcards):
    """For an S3 source, a shard converts what its download shard fetched."""
    if config["source"]["kind"] == "s3":
        return [f"resources/raw/shards/download_{wildcards.shard}.tsv"]
    return []


def selection_config(round_):
    """Round r uses the r-th selection config; rounds past the end reuse the last."""
    configs = config["selection"]
    return configs[min(int(round_), len(configs)) - 1]


def earlier_selections(wildcards):
    return [f"results/round_{r}/selection.json" for r in range(1, int(wildcards.round))]


def previous_predictions(wildcards):
    r = int(wildcards.round)
    return [f"results/round_{r - 1}/predictions"] if r > 1 else []


def round_annotations(wildcards):
    """Round r's model trains on the labels of rounds 1..r."""
    return [f"results/round_{r}/annotations.json" for r in range(1, int(wildcards.round) + 1)]


def validation_annotations():
    return "results/validation/annotations.json"


def image_dir(wildcards, input):
    """The JPG folder, taken from the manifest input so it follows the files on any storage."""
    return os.path.dirname(input.images)


def labelstudio_inputs(wildcards):
    """What the Label Studio backend reads besides the images to label."""
    ls = config["annotation"]["labelstudio"]
    inputs = {"images": IMAGE_MANIFEST, "metadata": "results/data/metadata"}
    if ls["simulate"] == "oracle":
        inputs["truth"] = config["annotation"]["oracle"]["truth"]
    if ls["attach_predictions"] and "round" in wildcards.keys():
        inputs["predictions"] = previous_predictions(wildcards)
    return inputs


def final_targets():
    """What `snakemake` without a target builds: the last round's model and the datasource."""
    r = config["rounds"]
    return [
        f"results/round_{r}/model.ckpt",
        f"results/round_{r}/metrics.json",
        "results/publish/data.json",
        f"results/round_{r}/publish.json",
    ]
