"""Checking selection configs (Lightly Worker format) without loading the selection engine.

Kept apart from `selection` so that the workflow can validate every round's config when it
starts, in the Snakemake process, with only jsonschema and PyYAML at hand.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import jsonschema
import yaml

from bps_labeler.errors import InputError
from bps_labeler.utils.config_values import dotted, first_non_finite

SCORE_NAMES = ("uncertainty_least_confidence", "uncertainty_margin", "uncertainty_entropy")
#: Pairs of input and strategy that Lightly Worker accepts.
ALLOWED_PAIRS: dict[str, tuple[str, ...]] = {
    "EMBEDDINGS": ("DIVERSITY", "TYPICALITY", "SIMILARITY"),
    "SCORES": ("WEIGHTS", "THRESHOLD"),
    "METADATA": ("WEIGHTS", "THRESHOLD", "BALANCE"),
    "PREDICTIONS": ("BALANCE",),
    "RANDOM": ("WEIGHTS",),
}


def schema() -> dict[str, Any]:
    """The JSON schema of one selection config."""
    text = resources.files("bps_labeler").joinpath("schemas/selection.schema.yaml").read_text()
    return yaml.safe_load(text)


def _path(parts: list[Any]) -> str:
    return f".{dotted(parts)}" if parts else ""


def _describe(error: jsonschema.ValidationError, where: str) -> str:
    path = where + _path(list(error.absolute_path))
    allowed = ""
    if error.validator == "additionalProperties" and isinstance(error.schema.get("properties"), dict):
        allowed = f"; allowed keys: {', '.join(error.schema['properties'])}"
    return f"{path}: {error.message}{allowed}"


def validate_config(config: dict[str, Any], where: str = "selection") -> None:
    """Check a selection config; the error names the bad key and lists the allowed ones."""
    if isinstance(config, dict):
        sizes = [k for k in ("n_samples", "proportion_samples") if k in config]
        if len(sizes) != 1:
            raise InputError(
                f"invalid selection config: {where}: give the number of images to pick as either "
                f"n_samples or proportion_samples{', not both' if sizes else ''}."
            )
        if "strategies" not in config:
            raise InputError(
                f"invalid selection config: {where}: no strategies; give a list of input and strategy "
                "pairs, for example [{input: {type: EMBEDDINGS}, strategy: {type: DIVERSITY}}]."
            )
        bad = first_non_finite(config)
        if bad is not None:
            raise InputError(f"invalid selection config: {where}{_path(bad[0])}: {bad[1]} is not a finite number.")
    errors = sorted(
        jsonschema.Draft202012Validator(schema()).iter_errors(config),
        key=lambda e: (len(list(e.absolute_path)), list(map(str, e.absolute_path))),
    )
    if errors:
        deepest = max(errors, key=lambda e: len(list(e.absolute_path)))
        raise InputError(f"invalid selection config: {_describe(deepest, where)}")
    for i, item in enumerate(config["strategies"]):
        kind, strat = item["input"]["type"], item["strategy"]["type"]
        here = f"{where}.strategies[{i}]"
        if strat not in ALLOWED_PAIRS[kind]:
            raise InputError(
                f"{here}: input {kind} cannot drive strategy {strat}; with {kind} use {', '.join(ALLOWED_PAIRS[kind])}."
            )
        need = {"SCORES": ("task", "score"), "METADATA": ("key",), "PREDICTIONS": ("task", "name")}
        for key in need.get(kind, ()):
            if key not in item["input"]:
                raise InputError(f"{here}.input: {kind} needs '{key}'.")
        if kind == "SCORES" and item["input"]["score"] not in SCORE_NAMES:
            raise InputError(
                f"{here}.input.score: unknown score {item['input']['score']!r}; allowed: {', '.join(SCORE_NAMES)}."
            )
        if strat == "THRESHOLD" and not {"threshold", "operation"} <= set(item["strategy"]):
            raise InputError(f"{here}.strategy: THRESHOLD needs 'threshold' and 'operation'.")
        if strat == "SIMILARITY":
            _check_similarity_query(item, here)
        if strat == "BALANCE":
            target = item["strategy"].get("target")
            if not target:
                raise InputError(f"{here}.strategy: BALANCE needs a non-empty 'target'.")
            if sum(target.values()) > 1 + 1e-9:
                raise InputError(f"{here}.strategy.target: fractions sum to {sum(target.values()):g} > 1.")


def _check_similarity_query(item: dict[str, Any], here: str) -> None:
    """A SIMILARITY query this pipeline can answer offline, or a message saying why not.

    Lightly names the query images by a tag of a dataset in its cloud (`input: {type:
    EMBEDDINGS, dataset_id, tag_name}`). The tags this pipeline has are its own rounds' picks;
    anything else is only in Lightly's cloud.
    """
    inp = item["input"]
    if "dataset_id" in inp:
        raise InputError(
            f"{here}.input.dataset_id: a query from a dataset in Lightly's cloud needs Lightly's "
            "cloud, which this pipeline does not use. Name the query images in "
            "strategy.query_filenames, or an earlier round's picks as input.tag_name: round_<r> "
            "(without dataset_id)."
        )
    tag = inp.get("tag_name")
    if tag is not None and not re.fullmatch(r"round_[1-9][0-9]*", str(tag)):
        raise InputError(
            f"{here}.input.tag_name: {tag!r} is not a tag this pipeline has. Its tags are the earlier "
            "rounds' picks (round_1, round_2, ...); other Lightly tags live in Lightly's cloud: list "
            "their images in strategy.query_filenames instead."
        )
    if tag is None and not item["strategy"].get("query_filenames"):
        raise InputError(
            f"{here}.strategy: SIMILARITY needs the images to look like: strategy.query_filenames, "
            "or input.tag_name: round_<r> for an earlier round's picks."
        )
