"""Sample selection with Lightly's own engine (lightly-mundig), from Lightly Worker configs.

Selection configs keep the Lightly Worker format so that configs written for the old tutorial (and
Lightly's documentation) work unchanged; this module turns them into lightly-mundig strategies,
runs them offline, and never picks an image that an earlier round already picked.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightly_mundig
import numpy as np
import pandas as pd

from bps_labeler.errors import InputError
from bps_labeler.models.predictions import TASK, active_learning_scores
from bps_labeler.selection.config import validate_config

log = logging.getLogger(__name__)

#: A THRESHOLD that leaves out more than this share of the pool is probably set for other data.
THRESHOLD_WARN_SHARE = 1 / 3

OPERATIONS = {
    "BIGGER": np.greater,
    "BIGGER_EQUAL": np.greater_equal,
    "SMALLER": np.less,
    "SMALLER_EQUAL": np.less_equal,
}


@dataclass
class Pool:
    """What selection may look at: the unlabeled pool and everything known about it."""

    filenames: list[str]
    embeddings: np.ndarray
    metadata: pd.DataFrame
    #: Class probabilities from the previous round's model, or None in round 1.
    probabilities: np.ndarray | None = None
    task: str = TASK
    categories: tuple[str, ...] = ()
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    #: Images whose condition decides the label (`known_answers`): never worth a person's label.
    known: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.probabilities is not None and not self.scores:
            self.scores = active_learning_scores(self.probabilities)


class PoolExhausted(InputError):
    """A round asks for more images than the pool has left."""


def _input_values(item: dict[str, Any], pool: Pool, where: str) -> np.ndarray:
    inp = item["input"]
    kind = inp["type"]
    if kind == "SCORES" or kind == "PREDICTIONS":
        if pool.probabilities is None:
            raise InputError(
                f"{where}: input {kind} needs predictions of an earlier round's model; round 1 "
                "has none. Use EMBEDDINGS, METADATA or RANDOM in the first round's config."
            )
        if inp["task"] != pool.task:
            raise InputError(f"{where}.input.task: unknown task {inp['task']!r}; known: {pool.task}.")
        if kind == "SCORES":
            return pool.scores[inp["score"]]
        return pool.probabilities
    if kind == "METADATA":
        key = inp["key"].removeprefix("lightly.") if inp["key"] not in pool.metadata else inp["key"]
        if key not in pool.metadata.columns:
            raise InputError(
                f"{where}.input.key: unknown metadata key {inp['key']!r}; known: {', '.join(pool.metadata.columns)}."
            )
        values = pool.metadata.loc[pool.filenames, key].to_numpy()
        strat = item["strategy"]["type"]
        if strat in ("THRESHOLD", "WEIGHTS") and not np.issubdtype(values.dtype, np.number):
            numeric = [c for c in pool.metadata.columns if np.issubdtype(pool.metadata[c].dtype, np.number)]
            raise InputError(
                f"{where}.input.key: {key!r} holds text ({', '.join(sorted(map(str, set(values)))[:5])}); "
                f"{strat} needs a number key: {', '.join(numeric)}. To pull classes of a text key "
                "towards shares, use BALANCE."
            )
        return values
    if kind == "RANDOM":
        return np.random.default_rng(inp.get("random_seed", 0)).uniform(size=len(pool.filenames))
    return pool.embeddings


def _balance_distribution(
    values: np.ndarray, target: dict[str, float], where: str, pool_classes: set[str]
) -> tuple[np.ndarray, list[float]]:
    """One-hot class distributions; classes the target leaves out share what it leaves over.

    `pool_classes` are the classes of the whole pool, `values` those of the images that may
    still be picked (known images and earlier picks are not).
    """
    labels = [str(v) for v in values]
    unknown = sorted(set(target) - pool_classes)
    if unknown:
        # a misspelt class ({Xray: 0.5}) would otherwise quietly hand its share to the others
        raise InputError(
            f"{where}.strategy.target: class(es) {unknown} do not occur in the pool; its classes "
            f"are {sorted(pool_classes)[:20]}. Spell them as in meta.csv, or leave them out."
        )
    unreachable = sorted(set(target) - set(labels))
    if unreachable:
        log.warning(
            "%s.strategy.target: no image of %s is left to pick (their condition decides the label, or "
            "earlier rounds took them); their share goes to the other classes",
            where,
            unreachable,
        )
    classes = list(target)
    rest = 1.0 - sum(target.values())
    has_rest = any(label not in target for label in labels)
    dist = np.zeros((len(labels), len(classes) + (1 if has_rest else 0)), dtype=np.float32)
    for i, label in enumerate(labels):
        dist[i, classes.index(label) if label in target else len(classes)] = 1.0
    tgt = list(target.values()) + ([max(rest, 0.0)] if has_rest else [])
    total = sum(tgt)
    return dist, [t / total for t in tgt]


def passes_threshold(strategy: dict[str, Any], values: np.ndarray) -> np.ndarray:
    """Which values a THRESHOLD strategy keeps: the one test behind selection and the report."""
    return OPERATIONS[strategy["operation"]](np.asarray(values, dtype=np.float64), float(strategy["threshold"]))


def _report_threshold(where: str, item: dict[str, Any], n_out: int, n: int) -> None:
    """Say how many images a THRESHOLD leaves out: quality thresholds are set on one dataset's
    measures, and on other images (real ones, another microscope) they can silently drop most of
    the pool."""
    inp, strat = item["input"], item["strategy"]
    what = f"{inp.get('key') or inp.get('score') or inp['type']} {strat['operation']} {strat['threshold']:g}"
    if n_out > THRESHOLD_WARN_SHARE * n:
        log.warning(
            "%s: THRESHOLD %s leaves out %d of %d images (%.0f %%); if these are not bad "
            "images, loosen it (their values are in results/data/metadata).",
            where,
            what,
            n_out,
            n,
            100 * n_out / n,
        )
    else:
        log.info("%s: THRESHOLD %s leaves out %d of %d images", where, what, n_out, n)


def select(
    config: dict[str, Any],
    pool: Pool,
    preselected: list[str],
    where: str = "selection",
    tags: dict[str, list[str]] | None = None,
) -> list[str]:
    """Filenames chosen this round, in the engine's order.

    Earlier rounds' picks are passed to the engine as preselected, so diversity keeps away from
    them and they are never chosen again. `tags` (round_<r> -> that round's picks) stand in for
    the Lightly tags a SIMILARITY query may name.
    """
    validate_config(config, where)
    index = {n: i for i, n in enumerate(pool.filenames)}
    unknown = [n for n in preselected if n not in index]
    if unknown:
        raise InputError(
            f"{where}: {len(unknown)} earlier selected image(s) are not in the pool, e.g. "
            f"{unknown[:3]}. The pool changed between rounds (filter or split edited); restore it "
            "or start a new results folder."
        )
    pre_idx = sorted(index[n] for n in preselected)
    candidates = np.ones(len(pool.filenames), dtype=bool)
    candidates[pre_idx] = False
    n_known = 0
    if pool.known is not None:
        if len(pool.known) != len(pool.filenames):
            raise ValueError(f"Pool.known has {len(pool.known)} entries for {len(pool.filenames)} images")
        n_known = int((pool.known & candidates).sum())
        candidates &= ~pool.known
        log.info(
            "%s: %d of %d pool images left out: their condition decides the label (known_answers)",
            where,
            n_known,
            len(pool.filenames),
        )
    items = config["strategies"]
    for i, item in enumerate(items):
        if item["strategy"]["type"] == "THRESHOLD":
            values = _input_values(item, pool, f"{where}.strategies[{i}]").astype(np.float64)
            strat = item["strategy"]
            keep = passes_threshold(strat, values)
            _report_threshold(f"{where}.strategies[{i}]", item, int((~keep).sum()), len(keep))
            candidates &= keep
    # a share of the images people could label: those the condition does not answer
    n = config.get("n_samples") or int(round(config["proportion_samples"] * (len(pool.filenames) - n_known)))
    n_left = int(candidates.sum())
    if n > n_left:
        raise PoolExhausted(
            f"{where}: asks for {n} samples but only {n_left} remain in the pool of "
            f"{len(pool.filenames)} after removing {len(pre_idx)} picked in earlier rounds"
            f"{f', {n_known} whose condition decides the label' if n_known else ''} and applying "
            f"thresholds. Lower n_samples or widen the filter"
            f"{' (or narrow known_answers)' if n_known else ''}."
        )
    sub = np.array(pre_idx + np.flatnonzero(candidates).tolist(), dtype=np.int64)
    engine = lightly_mundig.Selection()
    for i, item in enumerate(items):
        strat = item["strategy"]
        kind = strat["type"]
        here = f"{where}.strategies[{i}]"
        strength = float(strat.get("strength", 1.0))
        if kind == "THRESHOLD":
            continue
        values = _input_values(item, pool, here)
        if kind == "DIVERSITY":
            engine.add_diversifying_strategy(
                np.ascontiguousarray(values[sub], dtype=np.float32),
                strength,
                strat.get("stopping_condition_minimum_distance"),
            )
        elif kind == "TYPICALITY":
            engine.add_subpart_typicality_strategy(
                np.ascontiguousarray(values[sub], dtype=np.float32),
                [[j] for j in range(len(sub))],
                strength,
                int(strat.get("num_nearest_neighbors", 20)),
            )
        elif kind == "SIMILARITY":
            queries = list(strat.get("query_filenames") or [])
            tag = item["input"].get("tag_name")
            if tag is not None:  # Lightly's query by tag: here, an earlier round's picks
                if tag not in (tags or {}):
                    raise InputError(
                        f"{here}.input.tag_name: no tag {tag!r} before this round; the tags are the "
                        f"earlier rounds' picks: {sorted(tags or {}) or 'none yet (round 1)'}."
                    )
                queries += [q for q in tags[tag] if q not in queries]
            unknown_q = [q for q in queries if q not in index]
            if unknown_q:
                raise InputError(f"{here}.strategy.query_filenames: not in the pool: {unknown_q[:5]}.")
            engine.add_subpart_similarity_strategy(
                np.ascontiguousarray(values[sub], dtype=np.float32),
                np.ascontiguousarray(values[[index[q] for q in queries]], dtype=np.float32),
                [[j] for j in range(len(sub))],
                strength,
            )
        elif kind == "WEIGHTS":
            w = np.asarray(values[sub], dtype=np.float64)
            engine.add_weighting_strategy(w.tolist(), strength)
        elif kind == "BALANCE":
            if item["input"]["type"] == "PREDICTIONS":
                dist = np.asarray(values[sub], dtype=np.float32)
                names = list(pool.categories) or [str(k) for k in range(dist.shape[1])]
                target = strat["target"]
                bad = set(target) - set(names)
                if bad:
                    raise InputError(f"{here}.strategy.target: unknown class(es) {sorted(bad)}; classes: {names}.")
                tgt = [float(target.get(c, 0.0)) for c in names]
                left = [c for c in names if c not in target]
                for c in left:
                    tgt[names.index(c)] = (1.0 - sum(target.values())) / len(left)
                engine.add_balancing_strategy(dist, [t / sum(tgt) for t in tgt], strength)
            else:
                dist, tgt = _balance_distribution(values[sub], strat["target"], here, {str(v) for v in values})
                engine.add_balancing_strategy(dist, tgt, strength)
    chosen = engine.run_selection(list(range(len(pre_idx))), len(sub), len(pre_idx) + n)
    picked = [pool.filenames[sub[k]] for k in chosen if k >= len(pre_idx)]
    if len(picked) < n:
        # Lightly's stopping_condition_minimum_distance ends DIVERSITY early by design; say so
        log.warning(
            "%s: picked %d of the %d samples asked for: DIVERSITY's stopping_condition_minimum_distance "
            "stopped it once every image left was closer than that to one already picked. Lower it "
            "to pick more.",
            where,
            len(picked),
            n,
        )
    return picked


def selection_record(
    round_: int, config: dict[str, Any], pool: Pool, preselected: list[str], chosen: list[str]
) -> dict[str, Any]:
    """The `selection.json` contract: picks in order, the config used, per-sample scores.

    Contains nothing that changes between identical runs (no times, no paths), so two runs of the
    same config are byte-identical.
    """
    index = {n: i for i, n in enumerate(pool.filenames)}
    samples = []
    for rank, name in enumerate(chosen, start=1):
        i = index[name]
        meta = pool.metadata.loc[name]
        samples.append(
            {
                "rank": rank,
                "filename": name,
                "scores": {k: round(float(v[i]), 6) for k, v in pool.scores.items()},
                "metadata": {k: (v.item() if hasattr(v, "item") else v) for k, v in meta.items()},
            }
        )
    return {
        "round": round_,
        "config": config,
        "pool_size": len(pool.filenames),
        "n_preselected": len(preselected),
        "n_known_left_out": int(pool.known.sum()) if pool.known is not None else 0,
        "n_selected": len(chosen),
        "selected": samples,
    }


def read_selected(path: Path) -> list[str]:
    return [s["filename"] for s in json.loads(Path(path).read_text())["selected"]]


def round_tags(paths: list[Path]) -> dict[str, list[str]]:
    """Earlier rounds' selections as tags, as Lightly tags each selection run: round_<r>."""
    tags = {}
    for path in paths:
        record = json.loads(Path(path).read_text())
        tags[f"round_{record['round']}"] = [s["filename"] for s in record["selected"]]
    return tags


def write_selection(record: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
