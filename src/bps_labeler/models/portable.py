"""A model people can take away: the network as a `torch.export` program, its input recipe and
a model card, and `bps-labeler predict`, which answers for TIFFs or JPGs without the workflow.

Why `torch.export` and not TorchScript or ONNX: TorchScript is deprecated in the PyTorch this
package pins (`torch.jit.trace` warns so), and ONNX needs two more packages to write and a third
(onnxruntime) to run. An exported program (`model.pt2`) is PyTorch's own portable form: it loads
with `torch.export.load` alone, without this package's classes, and runs the same operators as
the network that was trained, so its probabilities match the pipeline's to float precision.

What the program cannot hold is how an image becomes its input: the 16-bit TIFF's stretch to
8 bits and the JPG round trip, the resize and channels, and the foci-and-line features the head
reads beside the learned ones. `model.json` records each setting, and `predict` runs the very
functions the pipeline runs with them, so a TIFF gives the answer it would give in a round.
Those functions belong to the package version that exported the model; another version may
compute them differently, so it is refused rather than trusted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml
from torch import nn
from torch.nn import functional as F

from bps_labeler.data.convert import Stretch, convert_one
from bps_labeler.data.images import FOCI_ELEMENT, FOCI_GAIN, chunks, load_images
from bps_labeler.data.meta import jpg_name, read_meta
from bps_labeler.embeddings.backbone import NORMALIZE, eval_transform
from bps_labeler.errors import InputError, exit_status
from bps_labeler.models import foci
from bps_labeler.models.conditions import Levels, by_image
from bps_labeler.models.network import TrackNet, head_inputs, load_network
from bps_labeler.utils.files import sha256_file, write_or_explain

#: Bumped when model.json or the program's inputs change meaning.
FORMAT = 1
PROGRAM = "model.pt2"
RECIPE = "model.json"
CARD = "MODEL_CARD.md"
TIFF = (".tif", ".tiff")
JPG = (".jpg", ".jpeg")


def package_version() -> str:
    try:
        return version("bps-labeler")
    except PackageNotFoundError:  # run from a checkout without installing (tests of common.smk)
        return "unknown"


class Probabilities(nn.Module):
    """The network with its softmax: (images, raw line features) -> class probabilities."""

    def __init__(self, net: TrackNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.net(x, extra), dim=1)


def recipe(net: TrackNet, stretch: Stretch) -> dict[str, Any]:
    """Everything besides the weights that turns an image into the program's answer."""
    return {
        "format": FORMAT,
        "package": "bps-labeler",
        "package_version": package_version(),
        "categories": list(net.categories),
        "inputs": {
            "conversion": {**asdict(stretch), "from": "16-bit TIFF, first page", "to": "8-bit JPG"},
            "grayscale": "PIL mode L of the JPG",
            "input_size": net.input_size,
            "resize": "bilinear, to input_size x input_size",
            "channels": ["gray", "foci", "foci"] if net.foci_channel else ["gray", "gray", "gray"],
            "foci_map": {"white_tophat_size": FOCI_ELEMENT, "gain": FOCI_GAIN} if net.foci_channel else None,
            "normalize": NORMALIZE,
            "line_features": {
                "names": list(foci.NAMES[: net.n_extra]),
                "from": "the JPG at full resolution",
                "tophat_radius": foci.TOPHAT_RADIUS,
                "threshold_sigmas": foci.THRESHOLD_SIGMAS,
                "faint_sigmas": foci.FAINT_SIGMAS,
                "radon": {"size": foci.RADON_SIZE, "step_degrees": foci.RADON_STEP, "clip": foci.RADON_CLIP},
                "min_distance": foci.MIN_DISTANCE,
                "max_foci": foci.MAX_FOCI,
                "line_tolerance": foci.LINE_TOLERANCE,
            }
            if net.n_extra
            else None,
            "condition": {
                "levels": [[column, values] for column, values in net.condition_levels],
                "from": "meta.csv's columns, matched by image name (--meta); one-hot after the line features",
                "unknown": "a level not listed, or an image without metadata, reads as all zeros",
            }
            if net.n_condition
            else None,
        },
        "outputs": "probability of each category, in the order of categories; the answer is the largest",
    }


def export_model(ckpt: Path, stretch: Stretch, card: dict[str, Any], out_dir: Path) -> Path:
    """Write `model.pt2`, `model.json` and `MODEL_CARD.md` of a classifier checkpoint into
    `out_dir`; returns the program's path. `card` holds what the card reports (model_card)."""
    net = load_network(ckpt)
    size = net.input_size
    example = (torch.zeros(2, 3, size, size), torch.zeros(2, net.n_extra + net.n_condition))
    batch = torch.export.Dim("batch", min=1, max=65536)
    with torch.no_grad():
        program = torch.export.export(Probabilities(net).eval(), example, dynamic_shapes=({0: batch}, {0: batch}))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / PROGRAM
    write_or_explain(path, lambda p: torch.export.save(program, p))
    spec = {**recipe(net, stretch), "sha256": sha256_file(path), "card": card}
    write_or_explain(out_dir / RECIPE, lambda p: Path(p).write_text(json.dumps(spec, indent=2) + "\n"))
    write_or_explain(out_dir / CARD, lambda p: Path(p).write_text(model_card(spec)))
    return path


def card_facts(
    metrics: dict[str, Any], config: dict[str, Any], ckpt: str, backbone: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the card says, from a round's metrics.json, the run's resolved config and where the
    backbone came from (its architecture, the weights file it started from, its SSL)."""
    undecided = metrics.get("baselines", {}).get("undecided", {})
    overall = metrics.get("baselines", {}).get("overall", {})
    return {
        "round": metrics.get("round"),
        "checkpoint": ckpt,
        "training_labels": {
            "people": metrics.get("n_labels"),
            "people_per_class": metrics.get("labels_per_class"),
            "rule": metrics.get("n_rule_labels"),
        },
        "validation": {
            "undecided": {k: v for k, v in undecided.items() if isinstance(v, dict)},
            "all": {k: v for k, v in overall.items() if isinstance(v, dict)},
            "n_undecided": undecided.get("n_val"),
            "n_all": overall.get("n_val"),
        },
        "config": config,
        "backbone": backbone,
    }


def _backbone(b: dict[str, Any] | None) -> list[str]:
    if not b:
        return []
    start = (
        f"the weights file `{b['weights']}` ({b.get('weights_kind', 'weights')}, sha256 {b.get('weights_sha256')})"
        if b.get("weights")
        else "random weights (nothing downloaded)"
    )
    ssl, n = b.get("ssl", "scratch"), b.get("ssl_epochs")
    then = "no self-supervised training" if ssl == "none" else f"SimCLR on the pool, {n} epoch{'' if n == 1 else 's'}"
    return [
        "## Backbone",
        "",
        f"- {b.get('architecture')} (torchvision), started from {start}",
        f"- then {then} (embed.ssl: {ssl})",
        "",
    ]


def _figures(table: dict[str, Any]) -> list[str]:
    rows = ["| answer from | balanced accuracy | AUROC | accuracy |", "|---|---|---|---|"]
    for name, m in table.items():
        rows.append(f"| {name} | {m.get('balanced_accuracy')} | {m.get('auroc')} | {m.get('accuracy')} |")
    return rows


def _levels(condition: dict[str, Any] | None) -> str:
    if not condition:
        return "not read"
    return "; ".join(f"{column} {values}" for column, values in condition["levels"])


def model_card(spec: dict[str, Any]) -> str:
    """The card people read: what the model answers, from what, and how well, beside the
    answers a biologist gets without it."""
    card = spec["card"]
    labels = card["training_labels"]
    inputs = spec["inputs"]
    val = card["validation"]
    lines = [
        f"# Model card: track / no-track classifier, round {card['round']}",
        "",
        f"Exported by bps-labeler {spec['package_version']} (format {spec['format']}) from `{card['checkpoint']}`.",
        "Run it with the same version: `bps-labeler predict THIS_FOLDER PATH... -o answers.csv` (TIFFs or JPGs).",
        "",
        "## What it answers",
        "",
        f"Categories, in the order of its outputs: {', '.join(spec['categories'])}.",
        "The answer is the most probable one.",
        (
            "It answers from the image and its condition (give meta.csv with --meta; without it, from the image alone)"
            if inputs.get("condition")
            else "It answers from the image alone"
        )
        + "; in the pipeline the condition answers X-ray and sham images"
        " (no heavy ion, no track), so use it on heavy-ion images, where the condition does not decide.",
        "",
        "## Trained on",
        "",
        f"- labels from people: {labels['people']} ({labels['people_per_class']})",
        f"- labels the condition gave (train.rule_labels): {labels['rule']}",
        "",
        "## Validation (images no round trained on)",
        "",
        f"Images the condition does not decide ({val['n_undecided']}), the figure that counts:",
        "",
        *_figures(val["undecided"]),
        "",
        f"All validation images ({val['n_all']}):",
        "",
        *_figures(val["all"]),
        "",
        *_backbone(card.get("backbone")),
        "## Inputs",
        "",
        f"- conversion: {inputs['conversion']}",
        f"- input: {inputs['input_size']} px square, {inputs['resize']}, channels {inputs['channels']}",
        f"- normalisation: {inputs['normalize']}",
        f"- foci-and-line features: {inputs['line_features']['names'] if inputs['line_features'] else 'none'}",
        f"- condition (give meta.csv: --meta): {_levels(inputs.get('condition'))}",
        "",
        f"Program: `{PROGRAM}` (torch.export), sha256 {spec['sha256']}. The run's resolved config is in `{RECIPE}`.",
        "",
    ]
    return "\n".join(lines)


class PortableModel:
    """An exported model, checked before use: its format, version, categories and program."""

    def __init__(self, folder: Path, categories: list[str] | None = None) -> None:
        folder = Path(folder)
        recipe_path = folder / RECIPE
        if not recipe_path.is_file():
            raise InputError(
                f"{folder}: no {RECIPE} here. Give the folder a round exported "
                "(results/round_<r>/export/, made by snakemake results/round_<r>/export/model.pt2)."
            )
        try:
            spec = json.loads(recipe_path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"{recipe_path}: not JSON ({exc}); export the round again.") from None
        if spec.get("format") != FORMAT or spec.get("package_version") != package_version():
            raise InputError(
                f"{recipe_path}: exported by bps-labeler {spec.get('package_version')} (format "
                f"{spec.get('format')}); this is bps-labeler {package_version()} (format {FORMAT}), whose "
                "conversion and features may differ. Install the version that exported it, or export the "
                "round again with this one (snakemake results/round_<r>/export/model.pt2)."
            )
        if categories is not None and list(spec["categories"]) != list(categories):
            raise InputError(
                f"{recipe_path}: the model answers {spec['categories']}, not {list(categories)} "
                "(annotation.categories). Use a model trained for these categories, or pass --categories."
            )
        program = folder / PROGRAM
        if not program.is_file() or sha256_file(program) != spec.get("sha256"):
            raise InputError(f"{program}: missing or changed since it was exported ({RECIPE} holds its sha256).")
        self.spec = spec
        self.categories: list[str] = list(spec["categories"])
        self.module = torch.export.load(program).module()
        inputs = spec["inputs"]
        self.stretch = Stretch(**{k: inputs["conversion"][k] for k in ("method", "low", "high", "quality")})
        self.input_size = int(inputs["input_size"])
        self.foci_channel = inputs["channels"][1] == "foci"
        self.line_features = len(inputs["line_features"]["names"]) if inputs["line_features"] else 0
        condition = inputs.get("condition")
        self.condition_levels: Levels = [(c, list(v)) for c, v in condition["levels"]] if condition else []

    @torch.no_grad()
    def predict_jpgs(
        self, paths: list[Path], names: list[str] | None = None, conditions: pd.DataFrame | None = None
    ) -> np.ndarray:
        """Class probabilities for JPGs, made as the pipeline makes its inputs; `names` (the
        pipeline's JPG names, default the files' own) find each image's row of `conditions`."""
        parts = []
        transform = eval_transform()
        names = names if names is not None else [p.name for p in paths]
        threads = torch.get_num_threads()
        for part, part_names in zip(chunks([str(p) for p in paths], 256), chunks(names, 256)):
            images = load_images(Path(), part, self.input_size, self.foci_channel, threads)
            x = torch.stack([transform(im) for im in images])
            extra = head_inputs(
                Path(), part, self.line_features, self.condition_levels, conditions, part_names, threads
            )
            extra = torch.as_tensor(extra, dtype=torch.float32)
            parts.append(self.module(x, extra).numpy())
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, len(self.categories)))

    def predict(self, paths: list[Path], conditions: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per image: path, filename (the JPG name the pipeline gives it), p_<category>
        per category, answer. TIFFs are converted first, exactly as the pipeline converts them.
        `conditions`: meta.csv's rows indexed by JPG name, for a model that reads the condition."""
        with tempfile.TemporaryDirectory(prefix="bps-predict-") as tmp:
            jpgs = []
            for i, path in enumerate(paths):
                if path.suffix.lower() in TIFF:
                    jpg = Path(tmp) / f"{i}-{jpg_name(path.name)}"
                    convert_one(path, jpg, self.stretch)
                    jpgs.append(jpg)
                else:
                    jpgs.append(path)
            names = [jpg_name(p.name) if p.suffix.lower() in TIFF else p.name for p in paths]
            probs = self.predict_jpgs(jpgs, names, conditions)
        table = pd.DataFrame({"path": [str(p) for p in paths], "filename": names})
        for k, c in enumerate(self.categories):
            table[f"p_{c}"] = probs[:, k]
        table["answer"] = [self.categories[k] for k in probs.argmax(axis=1)] if len(paths) else []
        return table


def image_paths(given: list[Path]) -> list[Path]:
    """The TIFFs and JPGs named or found (recursively) in the folders named, in order."""
    found: list[Path] = []
    for path in given:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TIFF + JPG)
        elif path.is_file():
            if path.suffix.lower() not in TIFF + JPG:
                raise InputError(f"{path}: not a TIFF or JPG (.tif, .tiff, .jpg, .jpeg).")
            found.append(path)
        else:
            raise InputError(f"{path}: no such file or folder.")
    if not found:
        raise InputError(f"no TIFF or JPG in {', '.join(map(str, given))}.")
    return found


def read_conditions(meta: Path | None, levels: Levels) -> pd.DataFrame | None:
    """meta.csv's rows by JPG name, or None with a word on what that costs when the model reads
    the condition."""
    if meta is None:
        if levels:
            columns = ", ".join(column for column, _ in levels)
            print(f"this model reads the condition ({columns}); without --meta it answers from the image alone")
        return None
    if not meta.is_file():
        raise InputError(f"{meta}: no such file (--meta).")
    return by_image(read_meta(meta))  # checked as the pipeline checks its own, row by row


def project_categories(directory: Path) -> list[str] | None:
    """annotation.categories of the config in `directory`, if a config is there."""
    path = directory / "config" / "config.yaml"
    if not path.is_file():
        return None
    cfg = yaml.safe_load(path.read_text()) or {}
    return (cfg.get("annotation") or {}).get("categories")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bps-labeler predict",
        description="Answer track / no track for TIFFs or JPGs with a model a round exported.",
    )
    parser.add_argument("model", type=Path, help="the exported model's folder (results/round_<r>/export)")
    parser.add_argument("paths", type=Path, nargs="+", help="TIFFs, JPGs, or folders holding them")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the answers' CSV")
    parser.add_argument(
        "--categories",
        help="categories the model must answer, comma-separated (default: annotation.categories of "
        "./config/config.yaml when there is one)",
    )
    parser.add_argument(
        "--meta",
        type=Path,
        help="a meta.csv naming each image's condition (filename, particle_type, dose_Gy, hr_post_exposure), "
        "for a model that reads the condition (train.condition_features; its MODEL_CARD.md says)",
    )
    parser.add_argument("--threads", type=int, default=max(1, torch.get_num_threads()))
    args = parser.parse_args(argv)

    def run() -> None:
        torch.set_num_threads(args.threads)
        wanted = args.categories.split(",") if args.categories else project_categories(Path.cwd())
        model = PortableModel(args.model, wanted)
        paths = image_paths(args.paths)
        table = model.predict(paths, read_conditions(args.meta, model.condition_levels))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.output, index=False, float_format="%.8g")
        counts = table["answer"].value_counts().to_dict()
        print(f"{len(table)} image(s) answered: {counts}; written to {args.output}")

    return exit_status(run)
