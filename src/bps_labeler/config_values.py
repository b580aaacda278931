"""Typed values from `snakemake --config`.

Snakemake reads a nested `--config` value (`annotation='{labelstudio: {timeout_s: 60}}'`) with
YAML's base loader, so every number and boolean inside it arrives as a string and the schema
refuses `'60'` with no hint of why. Where the schema asks for another type and the string reads as
that type in YAML, it is converted; anything else is left for the schema to report.
"""

from __future__ import annotations

from collections.abc import MutableMapping, MutableSequence
from typing import Any

import jsonschema
import yaml


def _typed(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def coerce(config: dict[str, Any], schema: dict[str, Any], max_passes: int = 20) -> list[str]:
    """Convert, in place, strings where `schema` wants a number, boolean, null or array.

    Returns the dotted paths it converted, so the caller can say so. Defaults are not filled in.
    """
    validator = jsonschema.Draft202012Validator(schema)
    converted: list[str] = []
    for _ in range(max_passes):
        changed = False
        for error in validator.iter_errors(config):
            if error.validator not in ("type", "enum") or not isinstance(error.instance, str):
                continue
            value = _typed(error.instance)
            if isinstance(value, str) or not jsonschema.Draft202012Validator(error.schema).is_valid(value):
                continue
            path = list(error.absolute_path)
            if not path:
                continue
            parent: Any = config
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, (MutableMapping, MutableSequence)):
                parent[path[-1]] = value
                converted.append(".".join(map(str, path)))
                changed = True
        if not changed:
            break
    return converted


def _dotted(path: list[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def schema_problem(config: dict[str, Any], schema: dict[str, Any], where: str) -> str | None:
    """The config's first schema violation as one line naming its key, or None.

    Snakemake's own validation prints the whole schema after the error, and the key only at the
    end as `instance['convert']['shards']`; a user needs the key and what it may be.
    """
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if error is None:
        return None
    key = _dotted(list(error.absolute_path)) or "the config"
    hint = error.schema.get("description") if isinstance(error.schema, dict) else None
    line = f"{where}: {key}: {error.message}."
    return f"{line} ({hint.strip()})" if hint else line
