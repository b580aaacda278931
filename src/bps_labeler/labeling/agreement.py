"""How far people agree: the ceiling for any model's accuracy on their labels.

When several people label the same images (Label Studio's overlap), their agreement says how
much of a model's disagreement with the labels is the model's: two biologists who agree on 90 %
of images leave little meaning in a model at 97 %. Computed from the export's records, one per
annotation, each naming its `annotator` (Label Studio's `completed_by`); skipped annotations and
records without an annotator do not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations
from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score

from bps_labeler.labeling.annotations import filename_of


def answers_by_labeler(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """{image: {labeler: choice}}; a labeler's later record of an image replaces the earlier one
    (a corrected answer), as the export lists them."""
    table: dict[str, dict[str, str]] = {}
    for rec in records:
        if rec.get("skipped") or rec.get("annotator") is None or rec.get("choice") is None:
            continue
        table.setdefault(filename_of(rec["image"]), {})[str(rec["annotator"])] = str(rec["choice"])
    return table


def _kappa(a: list[str], b: list[str], categories: tuple[str, ...]) -> float | None:
    """Cohen's kappa, or None where it is undefined (fewer than two images, or both people gave
    one and the same answer throughout, so chance agreement is total)."""
    if len(a) < 2 or len(set(a) | set(b)) < 2:
        return None
    value = cohen_kappa_score(a, b, labels=list(categories))
    return None if np.isnan(value) else round(float(value), 4)


def agreement(
    records: Iterable[dict[str, Any]], consensus: dict[str, str], categories: tuple[str, ...]
) -> dict[str, Any]:
    """Agreement between labelers on the images two or more of them labeled.

    `consensus` is the label the pipeline keeps for each image (the documented rule: the majority,
    ties to the latest update). Returns the labelers with their image counts, Cohen's kappa for
    each pair on the images both labeled, Light's kappa (the mean of the pairwise kappas; Light
    1971) when there are three or more, each labeler's agreement with the consensus on the shared
    images, and each shared image on which people differ, with everyone's answer.
    """
    table = answers_by_labeler(records)
    labelers = sorted({person for answers in table.values() for person in answers})
    shared = {image: answers for image, answers in table.items() if len(answers) >= 2}
    pairs = []
    for p, q in combinations(labelers, 2):
        both = [image for image, answers in shared.items() if p in answers and q in answers]
        a, b = [shared[i][p] for i in both], [shared[i][q] for i in both]
        pairs.append(
            {
                "labelers": [p, q],
                "n_images": len(both),
                "agreement": round(float(np.mean([x == y for x, y in zip(a, b)])), 4) if both else None,
                "cohen_kappa": _kappa(a, b, categories),
            }
        )
    kappas = [pair["cohen_kappa"] for pair in pairs if pair["cohen_kappa"] is not None]
    with_consensus = {}
    for person in labelers:
        mine = [(answers[person], consensus.get(image)) for image, answers in shared.items() if person in answers]
        mine = [(x, y) for x, y in mine if y is not None]
        with_consensus[person] = {
            "n_images": len(mine),
            "agreement": round(float(np.mean([x == y for x, y in mine])), 4) if mine else None,
        }
    differ = [
        {"filename": image, "answers": dict(sorted(answers.items())), "chosen": consensus.get(image)}
        for image, answers in sorted(shared.items())
        if len(set(answers.values())) > 1
    ]
    return {
        "labelers": {person: sum(person in answers for answers in table.values()) for person in labelers},
        "n_shared_images": len(shared),
        "pairs": pairs,
        "light_kappa": round(float(np.mean(kappas)), 4) if len(labelers) >= 3 and kappas else None,
        "with_consensus": with_consensus,
        "disagreements": differ,
        "measure": (
            "Cohen's kappa per pair of labelers on the images both labeled; Light's kappa (their mean) for "
            "three or more; agreement with the label the pipeline keeps (majority, ties to the latest update)"
        ),
    }
