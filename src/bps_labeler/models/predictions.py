"""Model predictions in Lightly's prediction format, and the active-learning scores derived from them.

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

TASK = "bps-classification"


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


def active_learning_scores(probs: np.ndarray) -> dict[str, np.ndarray]:
    """Lightly's classification uncertainty scores, each scaled to 0 (sure) .. 1 (unsure)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    n_classes = p.shape[1]
    top = np.sort(p, axis=1)[:, ::-1]
    least_conf = (1.0 - top[:, 0]) * n_classes / (n_classes - 1)
    margin = 1.0 - (top[:, 0] - top[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log2(p), 0.0)
    entropy = -plogp.sum(axis=1) / np.log2(n_classes)
    return {
        "uncertainty_least_confidence": np.clip(least_conf, 0, 1),
        "uncertainty_margin": np.clip(margin, 0, 1),
        "uncertainty_entropy": np.clip(entropy, 0, 1),
    }
