"""Model predictions in Lightly's prediction format (the scores selection derives: selection.scores).

Layout (https://docs.lightly.ai/docs/prediction-format):

    predictions/tasks.json                      ["bps-classification"]
    predictions/bps-classification/schema.json  {"task_type": "classification", "categories": [...]}
    predictions/bps-classification/<stem>.json  {"file_name": ..., "predictions": [...]}
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bps_labeler.data.meta import stem
from bps_labeler.errors import InputError
from bps_labeler.selection.scores import TASK


def schema(categories: tuple[str, ...]) -> dict:
    return {
        "task_type": "classification",
        "categories": [{"id": i, "name": n} for i, n in enumerate(categories)],
    }


def write_predictions(
    out_dir: Path, filenames: list[str], probabilities: np.ndarray, categories: tuple[str, ...]
) -> None:
    """Write one prediction JSON per image plus tasks.json and the task schema."""
    task_dir = out_dir / TASK
    task_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tasks.json").write_text(json.dumps([TASK]) + "\n")
    (task_dir / "schema.json").write_text(json.dumps(schema(categories), indent=2) + "\n")
    for name, p in zip(filenames, probabilities):
        record = {
            "file_name": name,
            "predictions": [
                {
                    "category_id": int(np.argmax(p)),
                    # Lightly's classification record: the chosen class's probability
                    "score": round(float(np.max(p)), 6),
                    "probabilities": [round(float(v), 6) for v in p],
                }
            ],
        }
        (task_dir / f"{stem(name)}.json").write_text(json.dumps(record) + "\n")


def read_predictions(pred_dir: Path, filenames: list[str], task: str = TASK) -> np.ndarray:
    """Class probabilities (n_images x n_classes) for `filenames`; every image must have one."""
    task_dir = Path(pred_dir) / task
    if not (task_dir / "schema.json").exists():
        tasks = Path(pred_dir) / "tasks.json"
        present = json.loads(tasks.read_text()) if tasks.exists() else "none"
        raise InputError(
            f"{task_dir}: no predictions for task {task!r} (schema.json missing). Tasks present: {present}."
        )
    probs = []
    missing = []
    for name in filenames:
        f = task_dir / f"{stem(name)}.json"
        if not f.exists():
            missing.append(name)
            continue
        probs.append(json.loads(f.read_text())["predictions"][0]["probabilities"])
    if missing:
        raise InputError(
            f"{task_dir}: predictions missing for {len(missing)} image(s), e.g. {missing[:3]}. "
            "Rerun the predict step of the previous round."
        )
    return np.asarray(probs, dtype=np.float64)
