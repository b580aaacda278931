"""What the condition alone says: the zero-label rule every figure has to beat.

X-rays and sham exposures (0 Gy) leave no tracks; only heavy ions do. A biologist knows that
without labeling anything, so an image whose condition decides its label is "known", and the
model earns its place on the others, the "undecided" ones. Which conditions are known is
configuration (`known_answers:`), so other data sets and other questions can say otherwise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bps_labeler.data.meta import jpg_name
from bps_labeler.labeling.annotations import image_url

#: The `annotator` of a label the condition decided: never mistaken for a person's.
RULE_ANNOTATOR = "rule"


@dataclass(frozen=True)
class KnownAnswer:
    """Images of a matching condition have `label`; an unset field matches everything."""

    label: str
    particle_types: tuple[str, ...] | None = None
    dose_min: float | None = None
    dose_max: float | None = None
    hours: tuple[int, ...] | None = None

    def matches(self, meta: pd.DataFrame) -> pd.Series:
        hit = pd.Series(True, index=meta.index)
        if self.particle_types is not None:
            hit &= meta["particle_type"].isin(self.particle_types)
        if self.dose_min is not None:
            hit &= meta["dose_Gy"].astype(float) >= self.dose_min
        if self.dose_max is not None:
            hit &= meta["dose_Gy"].astype(float) <= self.dose_max
        if self.hours is not None:
            hit &= meta["hr_post_exposure"].astype(int).isin(self.hours)
        return hit

    def describe(self) -> str:
        """The rule as a person reads it, e.g. "particle X-ray -> no track"."""
        parts = []
        if self.particle_types is not None:
            parts.append("particle " + "/".join(self.particle_types))
        if self.dose_min is not None:
            parts.append(f"dose >= {self.dose_min:g} Gy")
        if self.dose_max is not None:
            parts.append(f"dose <= {self.dose_max:g} Gy")
        if self.hours is not None:
            parts.append("at " + "/".join(str(h) for h in self.hours) + " h")
        return f"{', '.join(parts) or 'every image'} -> {self.label}"


def parse(entries: list[dict[str, Any]]) -> list[KnownAnswer]:
    """The config's `known_answers` list (already checked against the schema)."""
    return [
        KnownAnswer(
            label=e["label"],
            particle_types=tuple(e["particle_types"]) if "particle_types" in e else None,
            dose_min=e.get("dose_min"),
            dose_max=e.get("dose_max"),
            hours=tuple(e["hours"]) if "hours" in e else None,
        )
        for e in entries
    ]


def deciding_rule(meta: pd.DataFrame, rules: list[KnownAnswer]) -> np.ndarray:
    """Per row, the index in `rules` of the rule that decides its label, or -1 (undecided).

    The first matching rule wins, as in a list a person reads from the top.
    """
    which = np.full(len(meta), -1)
    for k, rule in enumerate(rules):
        which[rule.matches(meta).to_numpy() & (which < 0)] = k
    return which


def known_labels(meta: pd.DataFrame, rules: list[KnownAnswer]) -> pd.Series:
    """JPG name -> the label the condition decides, or None where it does not (undecided)."""
    labels = [rules[k].label if k >= 0 else None for k in deciding_rule(meta, rules)]
    return pd.Series(labels, index=meta["filename"].map(jpg_name).to_numpy(), dtype=object)


def rule_probabilities(known: pd.Series, categories: tuple[str, ...], positive: str) -> np.ndarray:
    """The metadata rule as a classifier: the known label, else `positive` (the condition can
    leave tracks, so the rule bets on one)."""
    probs = np.zeros((len(known), len(categories)))
    for i, label in enumerate(known.to_numpy()):
        probs[i, categories.index(positive if pd.isna(label) else label)] = 1.0
    return probs


def read_known(meta_csv: Path, entries: list[dict[str, Any]]) -> pd.Series:
    """`known_labels` of a filtered_meta.csv under the config's `known_answers` entries."""
    return known_labels(pd.read_csv(meta_csv), parse(entries))


def rule_records(meta: pd.DataFrame, rules: list[KnownAnswer], image_root: str) -> list[dict[str, Any]]:
    """JSON-MIN records of the images the condition decides, one per image, in meta order.

    They carry `annotator: "rule"` and the rule that decided them, so that they can stand beside
    people's labels in training and validation without ever being taken for one.
    """
    names = meta["filename"].map(jpg_name).to_numpy()
    which = deciding_rule(meta, rules)
    return [
        {
            "image": image_url(names[i], image_root),
            "id": n,
            "choice": rules[which[i]].label,
            "annotator": RULE_ANNOTATOR,
            "known_answer": rules[which[i]].describe(),
        }
        for n, i in enumerate(np.flatnonzero(which >= 0), start=1)
    ]


def _rank(name: str, seed: int) -> bytes:
    return hashlib.sha256(f"{seed}:{name}".encode()).digest()


def training_sample(rule_labels: dict[str, str], candidates: list[str], n: int, seed: int) -> dict[str, str]:
    """`n` of the rule's labels among `candidates` (the training side), for the classifier.

    Drawn by a seeded hash of the name, so an image's place does not depend on the pool's size
    or order and every round trains on the same ones. A few suffice: they show the model what
    the other conditions look like (X-ray foci scatter, sham nuclei have few) without drowning the
    people's labels or the CPU budget.
    """
    pool = sorted((c for c in candidates if c in rule_labels), key=lambda c: _rank(c, seed))
    return {c: rule_labels[c] for c in pool[:n]}


def conflicts(people: dict[str, str], rule_labels: dict[str, str]) -> list[dict[str, str]]:
    """People's labels that contradict the rule. The person's label is kept; these are reported."""
    return [
        {"filename": f, "person": people[f], "rule": rule_labels[f]}
        for f in sorted(people)
        if f in rule_labels and people[f] != rule_labels[f]
    ]
