# Helpers and config validation shared by all rules.

import json
import math
import os
import shlex
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# The library is imported as the installed package: in the venv (make install), in the conda
# environment (its post-deploy script). One exception, here only: a Snakemake installed outside
# that environment (system-wide) still parses the workflow, so it finds the package's config
# checks in the checkout; its jobs need the package installed (docs/development.md).
try:
    import bps_labeler
except ModuleNotFoundError:
    sys.path.insert(0, str(Path(workflow.basedir).parent / "src"))
# where envs/bps.post-deploy.sh installs the package from when `--sdm conda` builds the environment
os.environ.setdefault("BPS_LABELER_SRC", str(Path(workflow.basedir).parent))

import yaml

from bps_labeler.utils.config_values import check_config_file, coerce, schema_problem, sort_keys
from bps_labeler.errors import InputError
from bps_labeler.workflow.locks import only_looks, stale_locks
from bps_labeler.workflow.logs import explain_killed
from bps_labeler.selection.config import schema as _selection_schema
from bps_labeler.selection.config import validate_config as _validate_selection
from bps_labeler.labeling.store import (
    COMMAND_ENV,
    STORE,
    check_labeler,
    export_path,
    given_path,
    read_store,
    set_name,
)

# Snakemake's message for broken YAML names no file or line (--configfile files are read by
# Snakemake before the workflow; only this one can be checked here)
try:
    check_config_file("config/config.yaml")
except InputError as _err:
    raise WorkflowError(str(_err)) from None


configfile: "config/config.yaml"


# Jobs parse this file again with Snakemake's own command line: say things and set state once.
MAIN_PROCESS = "--target-jobs" not in sys.argv

# nested --config values arrive as strings ('60'); give them the types the schemas ask for
_SCHEMA = yaml.safe_load((Path(workflow.basedir) / "schemas" / "config.schema.yaml").read_text())
#: embed.train_images's default in the schema; see embed_params
EMBED_TRAIN_IMAGES_DEFAULT = _SCHEMA["properties"]["embed"]["properties"]["train_images"]["default"]
TRAIN_THRESHOLD_DEFAULT = _SCHEMA["properties"]["train"]["properties"]["threshold"]["default"]
coerce(config, _SCHEMA)
for _cfg in config.get("selection") or []:
    if isinstance(_cfg, dict):
        coerce(_cfg, _selection_schema())
# a share asked for (split.val_fraction) wins over the default fixed number of validation images
_split = config.get("split") or {}
if _split.get("val_fraction") is not None:
    config["split"]["val_size"] = None
elif "val_size" in _split and _split["val_size"] is None:
    raise WorkflowError(
        "split: val_size and val_fraction are both null; set one: val_size (a number of validation "
        "images, 200 by default) or val_fraction (a share of each condition, such as 0.2)."
    )
# YAML 1.1 reads unquoted yes/no/on/off as booleans: say so rather than dump the schema
_cats = (config.get("annotation") or {}).get("categories") or []
if any(isinstance(_c, bool) for _c in _cats):
    raise WorkflowError(
        f"annotation.categories is {_cats}: YAML read unquoted words such as yes/no as true/false. "
        "Quote them in the config: categories: ['yes', 'no']."
    )
# one line naming the key, before Snakemake's validation (which dumps the schema) fills defaults
_problem = schema_problem(config, _SCHEMA, "config (workflow/schemas/config.schema.yaml)")
if _problem:
    raise WorkflowError(_problem)
validate(config, schema="../schemas/config.schema.yaml")
# the same values in another key order must not rerun anything (params compare as written)
sort_keys(config)
for _i, _cfg in enumerate(config["selection"], start=1):
    try:
        _validate_selection(_cfg, where=f"config selection[{_i - 1}] (round {_i})")
    except InputError as _err:
        raise WorkflowError(str(_err)) from None
for _i, _known in enumerate(config["known_answers"]):
    if _known["label"] not in config["annotation"]["categories"]:
        raise WorkflowError(
            f"config known_answers[{_i}]: label {_known['label']!r} is not one of "
            f"annotation.categories {config['annotation']['categories']}."
        )


# a set people labeled is never relabeled by another labeler: refuse before any job runs
try:
    check_labeler(
        config["annotation"]["backend"], config["annotation"]["labelstudio"]["simulate"], STORE
    )
    # what the store says people were given, read once (the select rule reads it again at run time)
    GIVEN = read_store(STORE)
except InputError as _err:
    raise WorkflowError(str(_err)) from None
for _kind in ("local", "s3"):
    if config["source"]["kind"] == _kind and _kind not in config["source"]:
        raise WorkflowError(f"source.kind is '{_kind}' but source.{_kind} is not set.")
if config["source"]["kind"] == "local":
    _local = Path(config["source"]["local"]["path"])
    if not (_local / "meta.csv").is_file():
        raise WorkflowError(
            f"source.local.path is {str(_local)!r}, but {_local / 'meta.csv'} "
            f"{'is not a file' if (_local / 'meta.csv').exists() else 'does not exist'} (relative "
            f"paths start from {Path.cwd()}). Point it at the folder holding meta.csv and the TIFFs."
        )


wildcard_constraints:
    round=r"[1-9][0-9]*",
    shard=r"[0-9]+",


CONDA_ENV = "../envs/bps.yaml"
# one folder of every JPG, with manifest.tsv: a single declared output, so it travels through
# remote storage (--default-storage-provider) like any other file
IMAGES = "results/data/images"
SHARDS = list(range(config["convert"]["shards"]))
INFER_SHARDS = config["inference"]["shards"]


def embed_params():
    """The embed settings as the rule's params, train_images only when it is not its default:
    Snakemake reruns a job whose params changed, and the setting's arrival must not rerun
    every finished embedding (and every model after it)."""
    settings = dict(config["embed"])
    if settings.get("train_images") == EMBED_TRAIN_IMAGES_DEFAULT:
        del settings["train_images"]
    # the same for the brought backbone's keys at their defaults
    if settings.get("weights") is None:
        settings.pop("weights", None)
    if settings.get("ssl") == "scratch":
        settings.pop("ssl", None)
    if str(settings.get("precision")) == "32":
        settings.pop("precision", None)
    return settings


def train_params():
    """The train settings as the rule's params, threshold only when it is not its default (see
    embed_params: the setting's arrival must not rerun every finished model)."""
    settings = dict(config["train"])
    if settings.get("threshold") == TRAIN_THRESHOLD_DEFAULT:
        del settings["threshold"]
    if not settings.get("condition_features"):
        settings.pop("condition_features", None)
    return settings


def condition_meta(wildcards):
    """The filtered meta.csv for a model that reads the condition (train.condition_features);
    nothing without one, so that turning it off reruns no finished model."""
    return "results/data/filtered_meta.csv" if config["train"].get("condition_features") else []


def raw_dir():
    """Folder holding meta.csv (and, for a local source, the TIFFs)."""
    if config["source"]["kind"] == "local":
        return config["source"]["local"]["path"]
    return "resources/raw"


def raw_meta():
    return os.path.join(raw_dir(), "meta.csv")


def download_manifest(folder="resources/raw/shards"):
    """For an S3 source, a convert shard converts what its download shard (in `folder`) fetched."""

    def manifest(wildcards):
        if config["source"]["kind"] == "s3":
            return [f"{folder}/download_{wildcards.shard}.tsv"]
        return []

    return manifest


def image_pins(wildcards):
    """The S3 source's pinned image checksums, when the config names them (source.s3.pins)."""
    pins = config["source"].get("s3", {}).get("pins")
    return {"pins": pins} if pins else {}


def raw_tiffs(folder="resources/raw/shards"):
    """The TIFF folder a convert shard reads where the workflow makes it (S3: the download shard
    in `folder`); a local source's folder is the user's, passed as a param."""

    def tiffs(wildcards):
        kind = config["source"]["kind"]
        if kind == "synthetic":
            return {"tiffs": "resources/raw/tiffs"}
        if kind == "s3":
            return {"tiffs": f"{folder}/tiffs_{wildcards.shard}"}
        return {}

    return tiffs


def rest_inputs():
    """With inference.scope `all`, an infer shard also reads the left-out images of its shard."""
    if config["inference"]["scope"] != "all":
        return {}
    return {
        "rest_meta": "results/data/rest/meta.csv",
        "rest_images": "results/data/rest/images_{shard}",
    }


def inference_rows(input):
    """Images an inference job may answer: the filtered ones, and with scope `all` the rest."""
    return rows(input.meta) + (rows(input.rest_meta) if "rest_meta" in input.keys() else 0)


def configured_selection(round_):
    """Round r's selection config in config.yaml: the r-th; rounds past the end reuse the last."""
    configs = config["selection"]
    return configs[min(int(round_), len(configs)) - 1]


def selection_config(round_):
    """The config round r is selected with.

    A round already given to a labeler keeps the config it was selected with, so that editing
    config.yaml does not make Snakemake redo it (the select rule would keep its images anyway).
    """
    kept = GIVEN.get(set_name(int(round_)))
    if kept is not None and kept.selection is not None:
        return kept.selection["config"]
    # keys sorted as selection.json stores them, so a kept config compares equal to its source
    return json.loads(json.dumps(configured_selection(round_), sort_keys=True))


def report_kept_rounds():
    """Say once which rounds ignore an edited selection config."""
    if not MAIN_PROCESS:
        return
    for name, kept in sorted(GIVEN.items()):
        if kept.selection is None:
            continue
        r = kept.selection["round"]
        if kept.selection["config"] != configured_selection(r):
            print(
                f"Note: round {r} was given to a labeler ({given_path(name, STORE)}); it keeps its "
                "images and the selection config it was chosen with, not the config's.",
                file=sys.stderr,
            )


report_kept_rounds()


def explain_stale_locks():
    """A run killed on this machine (kill -9, power loss) leaves Snakemake's lock, and Snakemake
    then refuses to start with a message about another process. Say what it is and what removes
    it; parsing removes nothing (`bps-labeler unlock` does, after checking no run is alive)."""
    if not MAIN_PROCESS or only_looks(sys.argv):
        return
    locks = stale_locks(Path.cwd())
    if locks:
        print(
            f"Note: {locks[0].parent} holds the lock of a run that was killed (no Snakemake process "
            "works in this folder on this machine). If no run on another machine uses this folder, "
            "`bps-labeler unlock` removes it; then rerun the same command: finished jobs are kept.",
            file=sys.stderr,
        )


explain_stale_locks()


def check_profile():
    """Snakemake loads profiles/default only from the folder it starts in: say when it did not."""
    if MAIN_PROCESS and "labelstudio" not in workflow.global_resources:
        profile = Path(workflow.basedir).parent / "profiles" / "default"
        print(
            "Note: the workflow's profile (rerun-incomplete, one labeling job at a time) was not "
            "loaded: Snakemake looks for profiles/default in the folder it starts from. Start from "
            f"the repository, or add --workflow-profile {profile}.",
            file=sys.stderr,
        )


check_profile()


def earlier_selections(wildcards):
    return [f"results/round_{r}/selection.json" for r in range(1, int(wildcards.round))]


def previous_predictions(wildcards):
    r = int(wildcards.round)
    return [f"results/round_{r - 1}/predictions"] if r > 1 else []


def round_annotations(wildcards):
    """Round r's model trains on the labels of rounds 1..r."""
    return [f"results/round_{r}/annotations.json" for r in range(1, int(wildcards.round) + 1)]


def people_reports(wildcards):
    """The annotation reports of the sets people labeled by round r (their agreement); none
    where the simulated labeler answers."""
    if BACKEND == "oracle":
        return []
    rounds = [
        f"results/round_{r}/annotation_report.json" for r in range(1, int(wildcards.round) + 1)
    ]
    return ["results/validation/annotation_report.json", *rounds]


def validation_annotations():
    return "results/validation/annotations.json"


def image_dir(wildcards, input):
    """The JPG folder, taken from the input so it follows the files on any storage."""
    return input.images


def invocation():
    """The command this run was started with: what to rerun after labels time out.

    Set once by the main Snakemake process and inherited by its jobs (which parse this file
    again with another command line), so the hint repeats the user's config files and overrides.
    """
    if not MAIN_PROCESS:
        return
    exe = Path(sys.argv[0])
    if exe.name == "__main__.py":  # python -m snakemake
        command = [sys.executable, "-m", "snakemake"]
    else:
        # relative to where the user started it (Snakemake has already entered --directory)
        started = Path(os.environ.get("PWD", os.getcwd()))
        command = [str(exe.relative_to(started) if exe.is_relative_to(started) else exe)]
    os.environ[COMMAND_ENV] = shlex.join([*command, *sys.argv[1:]])


invocation()


def people_export(wildcards):
    """People's export of a round (or the validation images) in the label store.

    With Label Studio the file appears when the labeling checkpoint is done; with the `file`
    backend a person puts it there.
    """
    round_ = int(wildcards.round) if "round" in wildcards.keys() else None
    # the checkpoint that hands the set out: labelstudio(_validation) or handout(_validation)
    step = "labelstudio" if config["annotation"]["backend"] == "labelstudio" else "handout"
    if round_ is None:
        getattr(checkpoints, f"{step}_validation").get()
    else:
        getattr(checkpoints, step).get(round=wildcards.round)
    return str(export_path(set_name(round_), STORE))


def labelstudio_inputs(wildcards):
    """What the Label Studio backend reads besides the images to label."""
    ls = config["annotation"]["labelstudio"]
    inputs = {
        "images": IMAGES,
        "metadata": "results/data/metadata",
        "known": "results/data/known_answers.json",
    }
    if ls["simulate"] == "oracle":
        inputs["truth"] = config["annotation"]["oracle"]["truth"]
    if ls["attach_predictions"] and "round" in wildcards.keys():
        inputs["predictions"] = previous_predictions(wildcards)
    return inputs


def final_targets():
    """What `snakemake` without a target builds: the last round's model, its export, readout and
    datasource."""
    r = config["rounds"]
    return [
        f"results/round_{r}/model.ckpt",
        f"results/round_{r}/metrics.json",
        "results/publish/data.json",
        f"results/round_{r}/publish.json",
        "results/learning_curve.csv",
        "results/report/learning_curve.png",
        f"results/round_{r}/inference/readout.csv",
        "results/readout.json",
        f"results/round_{r}/export/model.pt2",
        *[
            f"results/round_{k}/report/embedding_map.{ext}"
            for k in range(1, r + 1)
            for ext in ("png", "html")
        ],
    ]


onerror:
    # a job killed by a signal cannot say why itself: name the likely cause (bps_labeler.workflow.logs)
    for _line in explain_killed(log):
        print(_line, file=sys.stderr)
