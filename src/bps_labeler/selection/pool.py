"""What selection may look at: the pool, its embeddings, metadata, scores and known answers.

Every strategy reads its input through `input_values`, so an input a round cannot have (scores
in round 1, a misspelt metadata key) is refused in one place with the config path that asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from bps_labeler.errors import InputError
from bps_labeler.selection.scores import TASK, active_learning_scores


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
        if self.known is not None and len(self.known) != len(self.filenames):
            raise ValueError(f"Pool.known has {len(self.known)} entries for {len(self.filenames)} images")

    @cached_property
    def index(self) -> dict[str, int]:
        """The row of each filename."""
        return {n: i for i, n in enumerate(self.filenames)}


class PoolExhausted(InputError):
    """A round asks for more images than the pool has left."""


def input_values(item: dict[str, Any], pool: Pool, where: str) -> np.ndarray:
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
