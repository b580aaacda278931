"""The library's layout shows the pipeline: a stage imports only the stages before it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "bps_labeler"
#: The pipeline's order; `errors` is the one module every layer shares.
ORDER = ["errors", "utils", "data", "embeddings", "selection", "labeling", "models", "evaluation", "report"]
ORDER += ["publish", "workflow", "cli"]


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "package"


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bps_labeler"):
            out += [(node.lineno, node.module)] if node.module != "bps_labeler" else []
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("bps_labeler.")]
    return out


def test_every_module_is_in_a_layer_of_the_pipeline():
    top = {
        p.stem if p.is_file() else p.name for p in PKG.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert top - {"__init__"} <= set(ORDER) | {"status"}, sorted(top - set(ORDER))


def test_no_stage_imports_a_later_one():
    wrong = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("").as_posix().replace("/", ".")
        name = rel.split(".")[1]
        here = ORDER.index(name) if name in ORDER else len(ORDER)  # the package's __init__ sees all
        for line, module in _imports(path):
            there = _layer(module)
            if there in ORDER and ORDER.index(there) > here:
                wrong.append(f"{path.relative_to(PKG)}:{line} imports {module}")
    assert not wrong, wrong


@pytest.mark.parametrize(
    ("module", "unloaded"),
    [
        ("bps_labeler.embeddings", ("torch", "lightning")),
        ("bps_labeler.models.predictions", ("torch", "lightning")),
        ("bps_labeler.models.metrics", ("torch", "lightning")),
        ("bps_labeler.selection", ("torch", "lightning")),
        ("bps_labeler.models.network", ("lightning",)),  # predicting needs torch, not Lightning
        ("bps_labeler.models.portable", ("lightning",)),  # nor does `bps-labeler predict`
        ("bps_labeler.evaluation.readout", ("torch", "lightning")),
    ],
)
def test_readers_of_a_stages_output_load_only_what_they_need(module, unloaded):
    # Lightning alone takes seconds to import: the jobs that only read a stage's output, or
    # predict, start in a fraction of that
    code = f"import sys, {module}; print(sorted(m for m in {unloaded!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
