"""The label store: people's labels and the selections they were given, outside Snakemake's reach.

A label costs a biologist's attention, so the files that hold people's work live in `annotations/`
(kept in git or DVC) and are never the output of a rule: Snakemake cannot delete them on a failed
job, a changed parameter, `--forceall` or `--delete-all-output`. For each labeled set (a round or
the validation images) the store holds two files, each written once and never over:

- `<name>.json`: the export of people's labels (Label Studio's full JSON export, which keeps
  skipped tasks and who labeled what, or whatever JSON-MIN/JSON file a person dropped in);
- `<name>.selection.json`: the images people were given and who labels them. Once it exists the
  set is history: the select rule keeps this selection instead of choosing again, so a change of
  config, code or earlier labels retrains models but never re-selects or relabels the set.

Rules read these files; `results/` only holds what is derived from them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bps_labeler.data.split import split_filenames
from bps_labeler.errors import InputError

#: The sets a store holds: `round_<r>` and `validation`.
SET_NAME = re.compile(r"round_[1-9][0-9]*|validation")
#: Where the store lives, relative to the working directory.
STORE = Path("annotations")
VALIDATION = "validation"

#: Who answers under each configured backend: people, the oracle through Label Studio, the oracle.
PEOPLE = "people"
SIMULATED = "simulated"
ORACLE = "oracle"

START_OVER = (
    "To start a fresh run on purpose, move the store aside first (e.g. `mv annotations "
    "annotations.old && rm -rf results`) and, with Label Studio, use new project names; nothing "
    "in the store is ever deleted by the pipeline."
)


class LabelsPending(InputError):
    """People have a set to label and its export is not in the store yet: not a failure of the
    run, but the place it waits, so the message says what to do rather than what went wrong."""


#: Set by the workflow to the command line the run was started with.
COMMAND_ENV = "BPS_LABELER_COMMAND"


def resume_hint() -> str:
    """What to run once people have labeled: the same command that started the run.

    Repeating it keeps its config files and overrides; a shorter command could fall back to the
    default config, whose simulated labeler the label store would refuse.
    """
    command = os.environ.get(COMMAND_ENV)
    if command:
        return command
    return "the same snakemake command you started this run with (same --configfile and --config)"


def set_name(round_: int | None) -> str:
    """`round_<r>` for a round, `validation` for the validation images."""
    return VALIDATION if round_ is None else f"round_{round_}"


def export_path(name: str, store: Path = STORE) -> Path:
    return store / f"{name}.json"


def given_path(name: str, store: Path = STORE) -> Path:
    return store / f"{name}.selection.json"


def labeler_of(backend: str, simulate: str = "none") -> str:
    """The kind of answers a configured backend gives."""
    if backend == "oracle":
        return ORACLE
    if backend == "labelstudio" and simulate != "none":
        return SIMULATED
    return PEOPLE


def title(name: str) -> str:
    """`round 1` for `round_1`, as people say it."""
    return name.replace("_", " ")


def describe(backend: str, simulate: str = "none") -> str:
    kind = labeler_of(backend, simulate)
    if kind == SIMULATED:
        return f"backend {backend} with simulate: {simulate} (simulated answers)"
    if kind == ORACLE:
        return "backend oracle (simulated answers from the hidden truth)"
    return f"backend {backend} (people)"


def write_once(path: Path, text: str) -> bool:
    """Write `text` to `path` unless the file exists; True if it was written.

    The file appears whole or not at all (a temporary file linked into place), and an existing
    file, even one written a moment ago by another job, is never replaced.
    """
    if path.exists():  # also spares a read-only store the temporary file
        return False
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # mode 0666 less the umask, as a plain open() gives (tempfile's 0600 locked out the lab's
        # other users); O_EXCL: never another writer's file
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise InputError(
                f"{path.parent}: cannot write {path.name} there ({exc.strerror}). The label store must be "
                "writable by whoever runs the pipeline: it records what people were given. Make it "
                "writable (or run as its owner) and rerun; nothing was lost."
            ) from None
        raise
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


@dataclass(frozen=True)
class GivenSet:
    """`<name>.selection.json`: the images people were given, and who labels them."""

    name: str
    filenames: list[str]
    backend: str
    simulate: str
    written_at: str
    selection: dict[str, Any] | None  # a round's whole selection.json; None for validation
    where: str = ""  # e.g. the Label Studio project URL

    @property
    def labeler(self) -> str:
        return labeler_of(self.backend, self.simulate)

    def to_json(self) -> str:
        record = {
            "set": self.name,
            "labeler": {"backend": self.backend, "simulate": self.simulate, "kind": self.labeler, "where": self.where},
            "written_at": self.written_at,
            "filenames": self.filenames,
            "filenames_sha256": _digest(self.filenames),
        }
        if self.selection is not None:
            record["selection"] = self.selection
        return json.dumps(record, indent=1, sort_keys=True) + "\n"


def _digest(filenames: list[str]) -> str:
    return hashlib.sha256(json.dumps(filenames).encode()).hexdigest()


def _check_record(record: dict[str, Any], path: Path) -> None:
    """A record edited by hand is refused, not half-believed: the images people were given are
    what every later round and the split rely on."""
    names = record["filenames"]
    damaged = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        damaged = "its filenames are not a list of names"
    elif "filenames_sha256" in record and record["filenames_sha256"] != _digest(names):
        damaged = "its filenames were changed after it was written"
    elif record.get("selection") is not None:
        selected = [s.get("filename") if isinstance(s, dict) else s for s in record["selection"].get("selected", [])]
        if selected != names:
            damaged = "its filenames and its selection name different images"
    if damaged:
        raise InputError(
            f"{path}: this record of what people were given was edited: {damaged}. Restore it from "
            "git/DVC (git checkout -- " + str(path) + "); to leave an image out, leave its label out of "
            "the export (or skip it in Label Studio) instead."
        )


def read_given(path: Path) -> GivenSet | None:
    """The record at `path`, or None if the set was never given to anyone."""
    if not path.exists():
        return None
    try:
        text = path.read_text()
    except PermissionError:
        raise InputError(
            f"{path}: cannot be read (permission denied; owner uid {path.stat().st_uid}). The label store "
            "must be readable by whoever runs the pipeline: ask its owner to make it so (chmod g+r)."
        ) from None
    try:
        record = json.loads(text)
        labeler = record["labeler"]
        _check_record(record, path)
        return GivenSet(
            name=record["set"],
            filenames=list(record["filenames"]),
            backend=labeler["backend"],
            simulate=labeler.get("simulate", "none"),
            written_at=record.get("written_at", ""),
            selection=record.get("selection"),
            where=labeler.get("where", ""),
        )
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path}: not a label-store record ({type(exc).__name__}: {exc}). It lists the images "
            "people were given; restore it from git/DVC rather than editing it."
        ) from None


def read_store(store: Path = STORE) -> dict[str, GivenSet]:
    """Every set's record, by set name: what was given to whom.

    Only `<set>.selection.json` counts: a copy a file manager made (`round_1 copy.selection.json`)
    or a stale one kept aside (`round_1_old.selection.json`) must not stand for the set.
    """
    records = {}
    for path in sorted(store.glob("*.selection.json")):
        name = path.name.removesuffix(".selection.json")
        if not SET_NAME.fullmatch(name):
            continue
        given = read_given(path)
        if given is None:
            continue
        if given.name != name:
            raise InputError(
                f"{path}: the record says it is {title(given.name)}'s, but its name says {title(name)}'s. "
                "Restore it from git/DVC rather than renaming or copying records."
            )
        records[name] = given
    return records


def give(
    name: str,
    filenames: list[str],
    backend: str,
    simulate: str = "none",
    selection: dict[str, Any] | None = None,
    where: str = "",
    store: Path = STORE,
) -> GivenSet:
    """Record that `filenames` were given to the configured labeler; an existing record wins.

    Returns the record in force. If one exists for other images, the set was given to people
    with another selection: stop rather than label a second set under the same name.
    """
    path = given_path(name, store)
    new = GivenSet(
        name, list(filenames), backend, simulate, datetime.now(UTC).isoformat(timespec="seconds"), selection, where
    )
    write_once(path, new.to_json())
    kept = read_given(path)
    assert kept is not None
    if sorted(kept.filenames) != sorted(filenames):
        raise InputError(
            f"{path}: {title(name)} was given to {describe(kept.backend, kept.simulate)} on "
            f"{kept.written_at} with {len(kept.filenames)} other images than the {len(filenames)} "
            f"now selected. Its selection is kept from this file: delete the derived "
            f"results/{name}/selection.json (or run with `--forcerun select`) and the select rule "
            f"writes the kept one back. {START_OVER}"
        )
    return kept


def check_labeler(backend: str, simulate: str = "none", store: Path = STORE) -> None:
    """Refuse a configured backend that would relabel a set someone else was given.

    Called before any job runs. A set given to people is never answered by a simulator, nor a
    simulated set mixed into a people's run; Label Studio and the `file` backend are both people,
    and either reads the store. An export without its record (from before records were kept)
    counts as people's.
    """
    configured = labeler_of(backend, simulate)
    given = read_store(store)
    conflicts = [
        f"{title(g.name)} was given to {describe(g.backend, g.simulate)} ({given_path(g.name, store)})"
        for g in given.values()
        if g.labeler != configured
    ]
    if configured != PEOPLE:
        conflicts += [
            f"{title(path.stem)} has people's export {path}"
            for path in sorted(store.glob("*.json"))
            if SET_NAME.fullmatch(path.stem) and path.stem not in given
        ]
    if conflicts:
        raise InputError(
            f"the label store holds sets of another labeler than the configured "
            f"{describe(backend, simulate)}: {'; '.join(conflicts)}. Nothing was changed. Rerun "
            f"with the config the run was started with (for people labeling in Label Studio: "
            f"`--configfile config/labelstudio.yaml`). {START_OVER}"
        )


def hand_out(
    name: str,
    filenames: list[str],
    backend: str,
    selection: dict[str, Any] | None,
    image_dir: str,
    store: Path = STORE,
) -> GivenSet | None:
    """Hand a set to people who label outside the pipeline (the `file` backend).

    The set is recorded the moment it is handed out, before any export exists, so that no later
    change of config, rerun or export can make the store say people were given other images. An
    export already there without a record (people labeled a selection they built by hand, or a
    store from before records were kept) is recorded only once the annotate job has checked it
    against the selection. Returns the record in force; stops, naming where the export goes, while
    people have not labeled.
    """
    export = export_path(name, store)
    if export.exists():
        return read_given(given_path(name, store))
    kept = give(name, filenames, backend, selection=selection, store=store)
    # an export saved under a near name (round_02.json, Round_2.json) is not read: say so
    near = [
        str(p)
        for p in sorted(store.glob("*.json"))
        if p != export
        and not p.name.endswith(".selection.json")
        and re.sub(r"round0+", "round", re.sub(r"[^a-z0-9]", "", p.stem.lower())) == name.replace("_", "")
    ]
    seen = f" ({', '.join(near)} is there: rename it to {export.name} if it is this set's export)" if near else ""
    raise LabelsPending(
        f"{title(name)} is handed out to people: its {len(kept.filenames)} images (JPGs in {image_dir}) "
        f"are listed under 'filenames' in {given_path(name, store)}, recorded {kept.written_at}. Label "
        f"them (in Label Studio: import the JPGs, export as JSON or JSON-MIN) and save the export as "
        f"{export}{seen}; then rerun: {resume_hint()}"
    )


def kept_selection(round_: int, store: Path = STORE) -> dict[str, Any] | None:
    """The selection record people were given for a round, or None if it was never given."""
    kept = read_given(given_path(set_name(round_), store))
    if kept is None:
        return None
    if kept.selection is None:
        raise InputError(f"{given_path(set_name(round_), store)}: no selection record in it.")
    return kept.selection


def check_in_pool(round_: int, given: list[str], pool: list[str], store: Path = STORE) -> None:
    """Stop if images people were given for a round have left the pool (a changed filter or
    source): their labels could not be used, and later rounds could not rule them out."""
    present = set(pool)
    gone = [n for n in given if n not in present]
    if gone:
        raise InputError(
            f"{given_path(set_name(round_), store)}: {len(gone)} of the {len(given)} images round "
            f"{round_} gave to people are no longer in the pool, e.g. {gone[:3]}; the filter or the "
            f"source changed since. Restore them in the config to keep using these labels. {START_OVER}"
        )


def fixed_split(store: Path = STORE) -> dict[str, str]:
    """JPG name -> "val" or "train" for every image already given to a labeler.

    A changed split (another `val_fraction`, seed or filter) must not move a labeled validation
    image into the pool, where it could be selected and labeled twice, nor a labeled training
    image into validation, where the model would be scored on what it was trained on.
    """
    fixed: dict[str, str] = {}
    for kept in read_store(store).values():
        side = "val" if kept.name == VALIDATION else "train"
        for name in kept.filenames:
            if fixed.setdefault(name, side) != side:
                raise InputError(
                    f"{given_path(kept.name, store)}: {name} is both a validation image and a training "
                    "image in the label store. Restore the store from git/DVC."
                )
    return fixed


def validation_filenames(split: Path, store: Path = STORE, known: Collection[str] = ()) -> list[str]:
    """The validation images people label: those they were given if any, else the split's
    validation images whose condition does not decide the label (`known`: the rule answers
    those, so no person's time goes to them)."""
    kept = read_given(given_path(VALIDATION, store))
    if kept is not None:
        return kept.filenames
    skip = set(known)
    return [f for f in split_filenames(split, "val") if f not in skip]


def set_images(
    selection: Path | None, split: Path, store: Path = STORE, known: Collection[str] = ()
) -> tuple[dict[str, Any] | None, list[str]]:
    """(selection record, images to label) of a round, given its selection.json, or of the
    validation set (`selection` None), whose images come from the store or the split."""
    if selection is None:
        return None, validation_filenames(split, store, known)
    record = json.loads(Path(selection).read_text())
    return record, [s["filename"] for s in record["selected"]]
