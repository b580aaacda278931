"""The selection stage: Lightly Worker selection configs run offline on Lightly's own engine.

`config` checks a config before any job runs, `pool` is what a round may look at, `thresholds`
narrows the candidates, `strategies` adds each strategy type to the engine, `engine.select`
picks, `records` writes and reads `selection.json`, and `scores` turns the previous round's
predictions into the uncertainty scores a config can name.
"""

from bps_labeler.selection.config import validate_config
from bps_labeler.selection.engine import select
from bps_labeler.selection.pool import Pool, PoolExhausted
from bps_labeler.selection.records import read_selected, round_tags, selection_record, write_selection
from bps_labeler.selection.scores import TASK, active_learning_scores

__all__ = [
    "TASK",
    "Pool",
    "PoolExhausted",
    "active_learning_scores",
    "read_selected",
    "round_tags",
    "select",
    "selection_record",
    "validate_config",
    "write_selection",
]
