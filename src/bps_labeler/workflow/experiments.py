"""Try another selection or training setting beside the main results, never touching them.

What `dvc exp run -S train.probe_c=1.0` is for a DVC pipeline, for this project's design (Snakemake
is the pipeline, DVC stores its files; see versioning.py): an experiment is a Snakemake working
folder `experiments/<name>/` with the main config plus the settings given, seeded with the main
run's files so that only what the settings change is recomputed, and its metrics set beside the
main ones.

    python -m bps_labeler.workflow.experiments probe-c-1 --set train.probe_c=1.0
    dvc metrics show results/metrics.json experiments/probe-c-1/results/metrics.json

Nothing of the main run is written: its `resources/` and `results/` are hard-linked in (Snakemake
deletes a job's outputs before it writes new ones, so a link is replaced, never written through),
and the label store is copied, so that what an experiment records there stays in the experiment.
People's labeled rounds keep their images (the select rule keeps given rounds whatever the
config says), so a selection setting changes the rounds nobody has labeled yet; with the Label
Studio or file backend such a round waits for labels like any other, in the experiment's folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bps_labeler.errors import InputError, exit_status
from bps_labeler.utils.files import link_or_copy

#: The main run's folders an experiment starts from (linked), and the label store (copied).
SEEDED = ("resources", "results")
STORE = "annotations"
#: Figures set side by side: on the undecided images, where the model has to earn its place.
SHOWN = (
    "n_labels",
    "undecided_model_balanced_accuracy",
    "undecided_model_auroc",
    "overall_model_and_rule_balanced_accuracy",
)


def parse_settings(settings: list[str]) -> dict[str, Any]:
    """`key.sub=value` pairs as DVC's -S takes them; values are YAML (1.0, true, [Fe, X-ray])."""
    parsed: dict[str, Any] = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected key=value, for example train.probe_c=1.0.")
        try:
            parsed[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "not YAML"
            raise InputError(
                f"--set {item!r}: the value is not valid YAML ({problem}); quote it or close its brackets, "
                "for example train.probe_c=1.0 or 'filter.hours=[4, 24]'."
            ) from None
    return parsed


def apply_settings(config: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The config with each dotted key set; a key the config does not have is refused, not added."""
    out = json.loads(json.dumps(config))
    for dotted, value in settings.items():
        node: Any = out
        parts = dotted.split(".")
        for i, part in enumerate(parts):
            index: Any = int(part) if isinstance(node, list) and part.isdigit() else part
            known = 0 <= index < len(node) if isinstance(node, list) else isinstance(node, dict) and part in node
            if not known:
                where = ".".join(parts[:i]) or "the config"
                have = (
                    list(range(len(node))) if isinstance(node, list) else sorted(node) if isinstance(node, dict) else []
                )
                raise InputError(f"--set {dotted}: {where} has no {part!r}; it has {have}.")
            if i == len(parts) - 1:
                node[index] = value
            else:
                node = node[index]
    return out


def _link_tree(src: Path, dst: Path) -> None:
    """A copy of `src` made of hard links (a real copy where links cannot be made)."""
    shutil.copytree(src, dst, copy_function=lambda s, d: link_or_copy(Path(s), Path(d)), symlinks=True)


def prepare(repo: Path, name: str, settings: dict[str, Any], configfile: Path) -> Path:
    """Make `experiments/<name>/` from the main run and the changed config; return the folder."""
    if not name or "/" in name or name.startswith("."):
        raise InputError(f"experiment name {name!r}: use a plain folder name such as probe-c-1.")
    folder = repo / "experiments" / name
    if folder.exists():
        raise InputError(f"{folder} exists: give the experiment another name, or remove the folder to run it again.")
    if not (repo / configfile).is_file():
        raise InputError(
            f"{repo / configfile}: no such config; --repo names the folder of a finished run (the "
            "repository), --configfile its config relative to that folder."
        )
    config = yaml.safe_load((repo / configfile).read_text())
    changed = apply_settings(config, settings)
    folder.mkdir(parents=True)
    (folder / "config").mkdir()
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
    (folder / "experiment.json").write_text(json.dumps({"name": name, "set": settings}, indent=1) + "\n")
    for sub in SEEDED:
        if (repo / sub).exists():
            _link_tree(repo / sub, folder / sub)
    if (repo / STORE).exists():
        shutil.copytree(repo / STORE, folder / STORE)
    # Snakemake's records of each output's params and code: without them it could not tell that
    # a changed setting makes a finished job out of date
    if (repo / ".snakemake" / "metadata").exists():
        shutil.copytree(repo / ".snakemake" / "metadata", folder / ".snakemake" / "metadata")
    return folder


def compare(main: Path, experiment: Path) -> str:
    """The main run's and the experiment's metrics, round by round, as a Markdown table."""
    tables = {}
    for label, path in (("main", main), ("experiment", experiment)):
        if not path.exists():
            raise InputError(f"{path} is missing: run the rounds first (snakemake).")
        tables[label] = json.loads(path.read_text())
    rounds = sorted(set(tables["main"]) | set(tables["experiment"]), key=lambda r: int(r.split("_")[-1]))
    lines = ["| round | " + " | ".join(f"{k} (main / experiment)" for k in SHOWN) + " |"]
    lines.append("|---" * (len(SHOWN) + 1) + "|")
    for r in rounds:
        cells = []
        for key in SHOWN:
            a, b = (tables[t].get(r, {}).get(key) for t in ("main", "experiment"))
            cells.append(f"{_fmt(a)} / {_fmt(b)}")
        lines.append(f"| {r.split('_')[-1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def run(snakefile: Path, folder: Path, cores: str = "all", snakemake: str | None = None) -> None:
    """Run the experiment's rounds to the learning curve; only what its settings change reruns.

    The target is the learning curve, not the default target: publishing is left out, so an
    experiment never writes to the datasource the main run publishes to.
    """
    exe = snakemake or str(Path(sys.executable).with_name("snakemake"))
    cmd = [
        exe,
        "--snakefile",
        str(snakefile),
        "--directory",
        str(folder),
        "--cores",
        cores,
        "results/metrics.json",
    ]
    # Snakemake looks for the workflow's profile from the folder it starts in; this one has none
    profile = Path(snakefile).resolve().parents[1] / "profiles" / "default"
    if profile.is_dir():
        cmd += ["--workflow-profile", str(profile)]
    proc = subprocess.run(cmd, cwd=folder, check=False)
    if proc.returncode:
        raise InputError(f"the experiment's rounds failed; its logs are in {folder / 'logs'}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the experiment's folder under experiments/")
    parser.add_argument("--set", "-S", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--repo", type=Path, default=Path.cwd())
    parser.add_argument("--configfile", type=Path, default=Path("config/config.yaml"))
    parser.add_argument("--snakefile", type=Path, default=None, help="default: <repo>/workflow/Snakefile")
    parser.add_argument("--cores", default="all")
    args = parser.parse_args(argv)

    def action() -> None:
        if not args.settings:
            raise InputError("give at least one setting to change: --set train.probe_c=1.0")
        folder = prepare(args.repo, args.name, parse_settings(args.settings), args.configfile)
        run(args.snakefile or args.repo / "workflow" / "Snakefile", folder, args.cores)
        print(compare(args.repo / "results" / "metrics.json", folder / "results" / "metrics.json"))
        print(
            f"\nExperiment in {folder.relative_to(args.repo)}; with DVC: dvc metrics show results/metrics.json "
            f"{(folder / 'results' / 'metrics.json').relative_to(args.repo)}"
        )

    return exit_status(action)


if __name__ == "__main__":
    sys.exit(main())
