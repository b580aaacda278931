"""THRESHOLD strategies: which images they keep, and a warning when they drop too many.

Shared with the report, which shows the images a threshold left out, so both use one test.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


#: A THRESHOLD that leaves out more than this share of the pool is probably set for other data.
THRESHOLD_WARN_SHARE = 1 / 3


OPERATIONS = {
    "BIGGER": np.greater,
    "BIGGER_EQUAL": np.greater_equal,
    "SMALLER": np.less,
    "SMALLER_EQUAL": np.less_equal,
}


def passes_threshold(strategy: dict[str, Any], values: np.ndarray) -> np.ndarray:
    """Which values a THRESHOLD strategy keeps: the one test behind selection and the report."""
    return OPERATIONS[strategy["operation"]](np.asarray(values, dtype=np.float64), float(strategy["threshold"]))


def report_threshold(where: str, item: dict[str, Any], n_out: int, n: int) -> None:
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
