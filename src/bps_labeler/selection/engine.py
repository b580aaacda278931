"""Sample selection with Lightly's own engine (lightly-mundig), from Lightly Worker configs.

Selection configs keep the Lightly Worker format so that configs written for the old tutorial (and
Lightly's documentation) work unchanged; this module turns them into lightly-mundig strategies,
runs them offline, and never picks an image that an earlier round already picked.
"""

from __future__ import annotations

import logging
from typing import Any

import lightly_mundig
import numpy as np

from bps_labeler.errors import InputError
from bps_labeler.selection.config import validate_config
from bps_labeler.selection.pool import Pool, PoolExhausted, input_values
from bps_labeler.selection.strategies import ADD, Step
from bps_labeler.selection.thresholds import passes_threshold, report_threshold

log = logging.getLogger(__name__)


def _preselected_rows(pool: Pool, preselected: list[str], where: str) -> list[int]:
    unknown = [n for n in preselected if n not in pool.index]
    if unknown:
        raise InputError(
            f"{where}: {len(unknown)} earlier selected image(s) are not in the pool, e.g. "
            f"{unknown[:3]}. The pool changed between rounds (filter or split edited); restore it "
            "or start a new results folder."
        )
    return sorted(pool.index[n] for n in preselected)


def _leave_out_known(pool: Pool, candidates: np.ndarray, where: str) -> int:
    """Drop images whose condition decides the label; how many of the candidates that was."""
    if pool.known is None:
        return 0
    n_known = int((pool.known & candidates).sum())
    candidates &= ~pool.known
    log.info(
        "%s: %d of %d pool images left out: their condition decides the label (known_answers)",
        where,
        n_known,
        len(pool.filenames),
    )
    return n_known


def _apply_thresholds(config: dict[str, Any], pool: Pool, candidates: np.ndarray, where: str) -> None:
    for i, item in enumerate(config["strategies"]):
        if item["strategy"]["type"] == "THRESHOLD":
            here = f"{where}.strategies[{i}]"
            keep = passes_threshold(item["strategy"], input_values(item, pool, here).astype(np.float64))
            report_threshold(here, item, int((~keep).sum()), len(keep))
            candidates &= keep


def _how_many(config: dict[str, Any], pool: Pool, candidates: np.ndarray, n_pre: int, n_known: int, where: str) -> int:
    """n_samples, or a share of the images people could label (those the condition leaves open)."""
    n = config.get("n_samples") or int(round(config["proportion_samples"] * (len(pool.filenames) - n_known)))
    n_left = int(candidates.sum())
    if n > n_left:
        raise PoolExhausted(
            f"{where}: asks for {n} samples but only {n_left} remain in the pool of "
            f"{len(pool.filenames)} after removing {n_pre} picked in earlier rounds"
            f"{f', {n_known} whose condition decides the label' if n_known else ''} and applying "
            f"thresholds. Lower n_samples or widen the filter"
            f"{' (or narrow known_answers)' if n_known else ''}."
        )
    return n


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
    pre = _preselected_rows(pool, preselected, where)
    candidates = np.ones(len(pool.filenames), dtype=bool)
    candidates[pre] = False
    n_known = _leave_out_known(pool, candidates, where)
    _apply_thresholds(config, pool, candidates, where)
    n = _how_many(config, pool, candidates, len(pre), n_known, where)
    sub = np.array(pre + np.flatnonzero(candidates).tolist(), dtype=np.int64)
    engine = lightly_mundig.Selection()
    for i, item in enumerate(config["strategies"]):
        add = ADD.get(item["strategy"]["type"])  # THRESHOLD was applied above
        if add is not None:
            here = f"{where}.strategies[{i}]"
            add(engine, Step(item, input_values(item, pool, here), sub, pool, here, tags or {}))
    chosen = engine.run_selection(list(range(len(pre))), len(sub), len(pre) + n)
    picked = [pool.filenames[sub[k]] for k in chosen if k >= len(pre)]
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
