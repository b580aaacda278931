"""bps-labeler: what users run beside Snakemake, under one name.

Each subcommand is the module it names, with that module's own options (`bps-labeler save
--help`); the old spellings (`python -m bps_labeler.workflow.versioning save`, `make labelstudio`) stay.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

from bps_labeler.errors import exit_status

#: subcommand -> (module whose main() runs it, arguments put first, what it is for)
COMMANDS: dict[str, tuple[str, list[str], str]] = {
    "status": ("bps_labeler.cli", [], "each set's state: selected, given to people, labeled, model, figures"),
    "predict": ("bps_labeler.models.portable", [], "answer track / no track for TIFFs or JPGs with an exported model"),
    "labelstudio": ("bps_labeler.labeling.labelstudio_server", [], "start a local Label Studio to label rounds in"),
    "labelers": (
        "bps_labeler.labeling.labelers",
        [],
        "create Label Studio accounts for a lab's labelers, or an invite link",
    ),
    "save": ("bps_labeler.workflow.versioning", ["save"], "save results/ and resources/ to the DVC remote"),
    "restore": ("bps_labeler.workflow.versioning", ["restore"], "restore a run from the DVC remote in a fresh clone"),
    "experiment": ("bps_labeler.workflow.experiments", [], "retrain with changed settings beside the main run"),
    "unlock": ("bps_labeler.cli", [], "remove the lock a killed run left (refused while a run works here)"),
    "pins": ("bps_labeler.data.pins", [], "pin the checksums of the images an S3 run downloaded"),
    "synthesize": ("bps_labeler.data.synthetic", [], "write a synthetic BPS-like data set (meta.csv and TIFFs)"),
}


def _in_a_run(name: str) -> argparse.ArgumentParser:
    """The options of a subcommand that works on a run's folder."""
    parser = argparse.ArgumentParser(prog=f"bps-labeler {name}", description=COMMANDS[name][2])
    parser.add_argument("--directory", "-d", type=Path, default=Path.cwd(), help="the run's folder (default: here)")
    return parser


def status_main(argv: list[str] | None = None) -> int:
    from bps_labeler.workflow.status import format_status, set_status

    args = _in_a_run("status").parse_args(argv)
    return exit_status(lambda: print(format_status(set_status(args.directory))))


def unlock_main(argv: list[str] | None = None) -> int:
    from bps_labeler.workflow.locks import unlock

    args = _in_a_run("unlock").parse_args(argv)

    def run() -> None:
        removed = unlock(args.directory)
        print(f"removed {len(removed)} lock(s) of a killed run" if removed else "no lock here: nothing to do")

    return exit_status(run)


#: Subcommands implemented here rather than by a module's main().
LOCAL = {"status": status_main, "unlock": unlock_main}


def _runner(name: str) -> Callable[[list[str]], int | None]:
    module, first, _ = COMMANDS[name]
    if name in LOCAL:
        return LOCAL[name]
    main = importlib.import_module(module).main
    return lambda rest: main([*first, *rest])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        lines = [f"  {n.ljust(width)}  {what}" for n, (_, _, what) in COMMANDS.items()]
        print("usage: bps-labeler COMMAND [options]   (bps-labeler COMMAND --help)\n\ncommands:\n" + "\n".join(lines))
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nbps-labeler: no command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    sys.argv[0] = f"bps-labeler {argv[0]}"  # each module's usage line names the command
    return int(_runner(argv[0])(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
