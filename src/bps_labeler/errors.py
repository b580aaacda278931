"""The one error type the pipeline raises for bad input.

Snakemake prints the message of a failed job; a single exception type whose message names the
file, row or key and says what to do lets the scripts stay thin and the user act at once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class InputError(ValueError):
    """Bad input from the user: a file, a row or a config key that must be fixed."""


def exit_status(action: Callable[[], object]) -> int:
    """Run a command-line action: bad input is one line on stderr and status 1, not a traceback."""
    try:
        action()
    except InputError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return 0
