"""Lightly Worker strategies as lightly-mundig calls: one small function per strategy type.

The table `ADD` maps a config's strategy type to the function that adds it to the engine, so a new
type is one function and one entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightly_mundig
import numpy as np

from bps_labeler.errors import InputError
from bps_labeler.selection.pool import Pool

log = logging.getLogger(__name__)


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


@dataclass
class Step:
    """One strategy of a config, with what every strategy function needs to add it."""

    item: dict[str, Any]
    #: The strategy's input for every pool image (`pool.input_values`).
    values: np.ndarray
    #: Pool indices the engine sees: earlier picks first, then the candidates.
    sub: np.ndarray
    pool: Pool
    where: str
    tags: dict[str, list[str]]

    @property
    def strategy(self) -> dict[str, Any]:
        return self.item["strategy"]

    @property
    def strength(self) -> float:
        return float(self.strategy.get("strength", 1.0))

    def seen(self) -> np.ndarray:
        """The values of the images the engine sees, as the float32 rows it takes."""
        return np.ascontiguousarray(self.values[self.sub], dtype=np.float32)


def _each_alone(step: Step) -> list[list[int]]:
    """Subparts of one image each: Lightly's per-image typicality and similarity."""
    return [[j] for j in range(len(step.sub))]


def add_diversity(engine: lightly_mundig.Selection, step: Step) -> None:
    engine.add_diversifying_strategy(
        step.seen(), step.strength, step.strategy.get("stopping_condition_minimum_distance")
    )


def add_typicality(engine: lightly_mundig.Selection, step: Step) -> None:
    neighbours = int(step.strategy.get("num_nearest_neighbors", 20))
    engine.add_subpart_typicality_strategy(step.seen(), _each_alone(step), step.strength, neighbours)


def _queries(step: Step) -> list[str]:
    """The query images: listed by name, or an earlier round's picks by Lightly tag name."""
    queries = list(step.strategy.get("query_filenames") or [])
    tag = step.item["input"].get("tag_name")
    if tag is not None:
        if tag not in step.tags:
            raise InputError(
                f"{step.where}.input.tag_name: no tag {tag!r} before this round; the tags are the "
                f"earlier rounds' picks: {sorted(step.tags) or 'none yet (round 1)'}."
            )
        queries += [q for q in step.tags[tag] if q not in queries]
    unknown = [q for q in queries if q not in step.pool.index]
    if unknown:
        raise InputError(f"{step.where}.strategy.query_filenames: not in the pool: {unknown[:5]}.")
    return queries


def add_similarity(engine: lightly_mundig.Selection, step: Step) -> None:
    rows = [step.pool.index[q] for q in _queries(step)]
    query = np.ascontiguousarray(step.values[rows], dtype=np.float32)
    engine.add_subpart_similarity_strategy(step.seen(), query, _each_alone(step), step.strength)


def add_weights(engine: lightly_mundig.Selection, step: Step) -> None:
    engine.add_weighting_strategy(np.asarray(step.values[step.sub], dtype=np.float64).tolist(), step.strength)


def _prediction_targets(step: Step, names: list[str]) -> list[float]:
    """Target shares over the model's classes; classes the target leaves out share the rest."""
    target = step.strategy["target"]
    bad = set(target) - set(names)
    if bad:
        raise InputError(f"{step.where}.strategy.target: unknown class(es) {sorted(bad)}; classes: {names}.")
    left = [c for c in names if c not in target]
    tgt = [float(target.get(c, (1.0 - sum(target.values())) / max(len(left), 1))) for c in names]
    return [t / sum(tgt) for t in tgt]


def add_balance(engine: lightly_mundig.Selection, step: Step) -> None:
    if step.item["input"]["type"] == "PREDICTIONS":
        dist = np.asarray(step.values[step.sub], dtype=np.float32)
        names = list(step.pool.categories) or [str(k) for k in range(dist.shape[1])]
        engine.add_balancing_strategy(dist, _prediction_targets(step, names), step.strength)
        return
    pool_classes = {str(v) for v in step.values}
    dist, tgt = _balance_distribution(step.values[step.sub], step.strategy["target"], step.where, pool_classes)
    engine.add_balancing_strategy(dist, tgt, step.strength)


#: Strategy type -> the function that adds it to the engine. THRESHOLD is not here: it narrows
#: the candidates before the engine runs (selection.thresholds).
ADD: dict[str, Callable[[lightly_mundig.Selection, Step], None]] = {
    "DIVERSITY": add_diversity,
    "TYPICALITY": add_typicality,
    "SIMILARITY": add_similarity,
    "WEIGHTS": add_weights,
    "BALANCE": add_balance,
}
