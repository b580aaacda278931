"""docs/bad-input.md, the catalogue of refused inputs, stays in step with the tests it names.

Fast: it reads the catalogue and the test files' source, and runs nothing else.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CATALOGUE = REPO / "docs" / "bad-input.md"
#: A test reference in a table cell: `tests/file.py::test_name` or `tests/file.py::test_name[id]`.
REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[([^`]*)\])?`")
COUNT = re.compile(r"^(\d+) bad inputs and (\d+) faults, each with its test\.$", re.MULTILINE)
FAULTS = "Faults"


def table_rows(text: str) -> dict[str, list[str]]:
    """The body rows of the table under each `## ` heading (header and rule lines left out)."""
    lines = text.splitlines()
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for i, line in enumerate(lines):
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif current is not None and line.startswith("|") and not line.startswith("|---"):
            is_header = i + 1 < len(lines) and lines[i + 1].startswith("|---")
            if not is_header:
                sections[current].append(line)
    return sections


@cache
def defined_tests(path: str) -> dict[str, ast.FunctionDef]:
    """The test functions defined in a test file, by name."""
    tree = ast.parse((REPO / path).read_text())
    return {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def is_parametrized(func: ast.FunctionDef) -> bool:
    return any("parametrize" in ast.unparse(d) for d in func.decorator_list)


def plausible_id(case_id: str, source: str) -> bool:
    """pytest joins a case's parameter ids with '-': each piece is a value written in the test
    file, an argument name with the case's index (`cfg0`), or a function's name (`<lambda>`)."""
    for piece in case_id.split("-"):
        variants = {piece, piece.rstrip("0123456789"), piece.strip("<>")}
        if piece and not any(v and v in source for v in variants):
            return False
    return True


def catalogue() -> str:
    assert CATALOGUE.exists(), f"{CATALOGUE} is missing"
    return CATALOGUE.read_text()


def test_every_row_names_a_test_and_a_message() -> None:
    bare = [
        row
        for rows in table_rows(catalogue()).values()
        for row in rows
        if not REF.search(row.split("|")[-2]) or len([c for c in row.split("|") if c.strip()]) < 3
    ]
    assert not bare, "rows without a message or a test reference in their last column:\n" + "\n".join(bare)


def test_every_named_test_exists() -> None:
    problems = []
    refs = REF.findall(catalogue())
    assert refs, "the catalogue names no test"
    for path, name, case_id in refs:
        if not (REPO / path).is_file():
            problems.append(f"{path}: no such test file")
            continue
        func = defined_tests(path).get(name)
        if func is None:
            problems.append(f"{path}::{name}: no such test function")
        elif case_id and not is_parametrized(func):
            problems.append(f"{path}::{name}[{case_id}]: the test is not parametrized")
        elif case_id and not plausible_id(case_id, (REPO / path).read_text()):
            problems.append(f"{path}::{name}[{case_id}]: no such case in its parametrize")
    assert not problems, "\n".join(problems)


def test_counts_match_the_tables_and_there_are_at_least_30_bad_inputs() -> None:
    text = catalogue()
    sections = table_rows(text)
    faults = [rows for title, rows in sections.items() if title.startswith(FAULTS)]
    assert len(faults) == 1, f"expected one '## {FAULTS}' section"
    n_faults = len(faults[0])
    n_bad = sum(len(rows) for title, rows in sections.items() if not title.startswith(FAULTS))
    assert n_bad >= 30, f"only {n_bad} bad inputs catalogued"
    found = COUNT.findall(text)
    assert found == [(str(n_bad), str(n_faults))], (
        f"the count line should read '{n_bad} bad inputs and {n_faults} faults, each with its test.', found {found}"
    )


def test_a_wrong_reference_is_caught() -> None:
    """The checks above do fail: a made-up test and a made-up case are not taken for real ones."""
    assert "test_no_such_test" not in defined_tests("tests/test_meta.py")
    source = (REPO / "tests" / "test_selection.py").read_text()
    assert plausible_id("cfg4-fractions sum to 1.2 > 1", source)
    assert not plausible_id("cfg4-fractions sum to 7 > 1", source)
