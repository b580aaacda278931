"""Typed values from `snakemake --config` and YAML files, checked with one line naming the key.

Snakemake reads a nested `--config` value (`annotation='{labelstudio: {timeout_s: 60}}'`) with
YAML's base loader, so every number and boolean inside it arrives as a string and the schema
refuses `'60'` with no hint of why. A string is converted by *type* alone (what it reads as in
YAML, if the schema asks for that type there), never by whether the converted value would pass:
`shards: '0'` must become 0 so that the user hears "0 is less than the minimum of 1", not that
`'0'` is not an integer.

JSON Schema counts `2.0` as an integer, and so `rounds: 2.0` would pass validation and crash
later in `range()`, Lightning or Pillow, some only inside a job. Here an integer is an `int`:
a whole float where the schema asks for an integer is converted, any other float refused.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping, MutableSequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from bps_labeler.errors import InputError

_BASE = jsonschema.Draft202012Validator
#: Draft 2020-12 with "integer" meaning an int (not 2.0, not True).
StrictValidator = jsonschema.validators.extend(
    _BASE,
    type_checker=_BASE.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)


def _typed(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _converted(instance: Any, schema: dict[str, Any], validator: str) -> tuple[bool, Any]:
    """(True, value) when `instance` should become `value` for `schema`'s type or enum."""
    if validator == "type":
        if isinstance(instance, float) and instance.is_integer():
            value: Any = int(instance)
        elif isinstance(instance, str):
            value = _typed(instance)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, str):
                return False, instance
        else:
            return False, instance
        return StrictValidator({"type": schema["type"]}).is_valid(value), value
    if validator == "enum" and isinstance(instance, str):
        value = _typed(instance)
        return (not isinstance(value, str) and value in schema["enum"]), value
    return False, instance


def coerce(config: dict[str, Any], schema: dict[str, Any], max_passes: int = 20) -> list[str]:
    """Convert, in place, strings and whole floats to the type `schema` asks for at their key.

    Returns the dotted paths it converted, so the caller can say so. Defaults are not filled in;
    values that do not read as the type are left for `schema_problem` to report.
    """
    validator = StrictValidator(schema)
    converted: list[str] = []
    for _ in range(max_passes):
        changed = False
        for error in validator.iter_errors(config):
            path = list(error.absolute_path)
            if not path or not isinstance(error.schema, dict):
                continue
            ok, value = _converted(error.instance, error.schema, str(error.validator))
            if not ok:
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


def dotted(path: list[Any]) -> str:
    """`a.b[0].c`: a key's place as a user writes it in the config."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def first_non_finite(value: Any, path: list[Any] | None = None) -> tuple[list[Any], float] | None:
    """(path, value) of the first NaN or infinity in a nested config, or None.

    YAML reads `.nan` and `.inf` as numbers, and JSON Schema's bounds never fail for NaN.
    """
    path = path or []
    if isinstance(value, float) and not math.isfinite(value):
        return path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = first_non_finite(item, [*path, key])
        if found is not None:
            return found
    return None


def schema_problem(config: dict[str, Any], schema: dict[str, Any], where: str) -> str | None:
    """The config's first schema violation as one line naming its key, or None.

    Snakemake's own validation prints the whole schema after the error, and the key only at the
    end as `instance['convert']['shards']`; a user needs the key and what it may be.
    """
    bad = first_non_finite(config)
    if bad is not None:  # the schema's minimum and maximum never fail for NaN: it would reach the jobs
        return f"{where}: {dotted(bad[0])}: {bad[1]} is not a finite number."
    error = jsonschema.exceptions.best_match(StrictValidator(schema).iter_errors(config))
    if error is None:
        return None
    key = dotted(list(error.absolute_path)) or "the config"
    hint = error.schema.get("description") if isinstance(error.schema, dict) else None
    line = f"{where}: {key}: {error.message}."
    return f"{line} ({' '.join(hint.split())})" if hint else line


def check_config_file(path: str | Path) -> None:
    """Stop with the file, line and column of a config file that is not valid YAML.

    Snakemake's own message ("Config file is not valid JSON or YAML ... mix whitespace and tab
    indentation") names neither the file nor the line. A missing file is left to Snakemake.
    """
    path = Path(path)
    if not path.is_file():
        return
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte offset {exc.start}); save the config as UTF-8.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        raise InputError(
            f"{path}{where}: not valid YAML ({problem}{f', {context}' if context else ''}). Fix the file; "
            "indent with spaces, not tabs, and quote values holding ': ' or '#'."
        ) from None
    if not isinstance(loaded, dict):
        raise InputError(
            f"{path}: {'empty' if loaded is None else f'a {type(loaded).__name__}, not keys and values'}; a "
            "config holds keys such as rounds: and selection: (copy config/config.yaml of the repository)."
        )


def sort_keys(config: dict[str, Any]) -> None:
    """Order every mapping of `config` by key, in place; lists keep their order.

    Rules pass parts of the config as params, and Snakemake compares params as written: the same
    values with the keys in another order (a config saved by another tool) would rerun every job
    from the filter on, hours on the real data set for an edit that changes nothing.
    """
    for value in config.values():
        _sort_within(value)
    items = sorted(config.items())
    config.clear()
    config.update(items)


def _sort_within(value: Any) -> None:
    if isinstance(value, dict):
        sort_keys(value)
    elif isinstance(value, list):
        for item in value:
            _sort_within(item)
