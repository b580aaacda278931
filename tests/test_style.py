"""The workflow catalog's conventions: rule files formatted by snakefmt, Python by ruff (format and lint).

Settings live in pyproject.toml ([tool.ruff], [tool.snakefmt]); `make format` applies them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["snakefmt", "--check", "workflow/"],
    ],
    ids=["ruff-check", "ruff-format", "snakefmt"],
)
def test_code_is_formatted_and_linted(command):
    proc = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=REPO, capture_output=True, text=True, check=False)
    out = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, f"{' '.join(command)} (fix with `make format`):\n{out}"


def test_no_rule_logs_a_folder():
    """Snakemake shows a failed job's logs, and crashes on a folder instead of naming the error."""
    offenders = []
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        in_log = False
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            stripped = line.strip()
            if stripped.endswith(":") and not stripped.startswith("#"):
                in_log = stripped == "log:"
            elif in_log and "directory(" in stripped:
                offenders.append(f"{path.name}:{n}: {stripped}")
    assert not offenders, offenders
