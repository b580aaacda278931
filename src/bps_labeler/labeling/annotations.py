"""Labels in Label Studio's JSON-MIN export format, and the simulated annotator.

Whatever backend produced them (the oracle, a Label Studio server, a file someone dropped in),
a round's labels are the same list of JSON-MIN records, so training never knows the difference.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

import pandas as pd

from bps_labeler.data.datasource_layout import LABELING_DIR, datasource_paths
from bps_labeler.data.meta import jpg_name
from bps_labeler.errors import InputError

CATEGORIES: tuple[str, ...] = ("track", "no track")
#: Label Studio serves files of a local-files storage under this URL prefix.
LOCAL_FILES_PREFIX = "/data/local-files/?d="

#: Name of the labeling interface's Choices control, and the JSON-MIN key of its answer.
CONTROL = "choice"


def image_url(filename: str, image_root: str) -> str:
    """The task's `image` value: a Label Studio local-files URL relative to the document root.

    The path is percent-encoded: it is a query value, which Label Studio and `filename_of` decode,
    so a name holding `+`, `&`, `#` or `%` (`p+q.jpg`) would otherwise come back as another
    name (`p q.jpg`, `p`), lose its known answer and its labels.
    """
    return f"{LOCAL_FILES_PREFIX}{quote(str(PurePosixPath(image_root) / filename), safe='/')}"


#: Label Studio keeps a file uploaded through its UI as /data/upload/<project>/<8 hex>-<name>.
_UPLOAD = re.compile(r"/data/upload/(?:\d+/)?[0-9a-f]{8}-(?P<name>[^/]+)$")


def filename_of(image: str) -> str:
    """The JPG name inside a task's `image` value, whatever URL form the export used.

    Images people uploaded carry Label Studio's random prefix, which is not part of the name
    the selection gave them.
    """
    parsed = urlparse(image)
    query = parse_qs(parsed.query)
    path = query["d"][0] if "d" in query else unquote(parsed.path)
    upload = _UPLOAD.search(path)
    return upload["name"] if upload else _path(path).name


def _path(path: str) -> PurePath:
    """A path as the labeling machine wrote it: Windows paths (`C:\\Users\\me\\a.jpg`) too."""
    return PureWindowsPath(path) if "\\" in path else PurePosixPath(path)


def folder_of(image: str) -> str | None:
    """The folder, bucket prefix or URL folder a task's `image` is in; None for an upload.

    Label Studio keeps an uploaded file itself, so an upload is this run's image whatever its
    name; any other URL says where the labeled file lived, which the name alone does not.
    """
    parsed = urlparse(image)
    if "/data/upload/" in parsed.path:  # with or without the random prefix (older servers)
        return None
    query = parse_qs(parsed.query)
    if "d" in query:  # local-files: a path below the server's document root
        return _path(query["d"][0]).parent.as_posix()
    if parsed.scheme and parsed.netloc:  # s3://bucket/key, https://host/key (a presigned URL)
        return f"{parsed.scheme.lower()}://{parsed.netloc}{PurePosixPath(unquote(parsed.path)).parent}".rstrip("/")
    return _path(unquote(image if "\\" in image else parsed.path)).parent.as_posix()


def _tail_match(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """One path's components end the other's: a Label Studio path relative to its document root
    names the folder as well as its absolute path does."""
    n = min(len(a), len(b))
    return n > 0 and a[-n:] == b[-n:]


def _local_parts(folder: str) -> tuple[str, ...]:
    return tuple(p for p in PurePosixPath(folder).parts if p not in (".", "/"))


def in_folders(folder: str, known: Collection[str]) -> bool:
    """Whether an export image's folder is one of the folders this run's images are in.

    Buckets and URLs must match exactly; local paths match when one ends the other (the export
    holds paths relative to Label Studio's document root, the config absolute or relative ones).
    """
    remote = "://" in folder
    if not remote and not _local_parts(folder):
        return True  # the server's document root itself: whatever folder it is, it says nothing
    for k in known:
        k = k.rstrip("/")
        if "://" in k or remote:
            if remote and "://" in k and folder.lower() == k.lower():
                return True
        elif PurePosixPath(folder).is_absolute():
            if PurePosixPath(k).is_absolute() and _local_parts(folder) == _local_parts(k):
                return True
        elif _tail_match(_local_parts(folder), _local_parts(k)):
            return True
    return False


def run_image_folders(image_dir: str, datasource_uri: str, extra: Collection[str] = ()) -> list[str]:
    """Every folder this run's JPGs are in: the image folder (as given, absolute and with links
    resolved, since Label Studio's tasks name the resolved path), the datasource's input folder
    and its labeling folder, and the folders a user added (annotation.image_folders)."""
    data = datasource_paths(datasource_uri)["input_datasource"]
    given = f"{datasource_uri.rstrip('/')}/{LABELING_DIR}"  # a Label Studio reading from S3
    return sorted({form for f in (image_dir, data, given, *extra) for form in _spellings(f)})


def _spellings(folder: str) -> set[str]:
    """A folder as given, absolute and with links resolved; a URL as it is."""
    if "://" in folder:
        return {folder}
    return {folder, str(Path(folder).absolute()), str(Path(folder).resolve())}


def _check_image(image: object, where: str) -> None:
    if not isinstance(image, str) or not image:
        raise InputError(
            f"{where}: 'image' is {type(image).__name__} {image!r:.40}, not a file path or URL. Export "
            "the tasks from Label Studio again rather than editing the file."
        )


def read_truth(path: Path) -> dict[str, str]:
    """Hidden true labels by JPG name; only the simulated annotator may read them."""
    df = pd.read_csv(path)
    missing = {"filename", "label"} - set(df.columns)
    if missing:
        raise InputError(f"{path}: truth file lacks column(s) {sorted(missing)}.")
    return {jpg_name(f): str(label) for f, label in zip(df["filename"], df["label"])}


def check_truth_categories(truth: dict[str, str], categories: tuple[str, ...], path: Path) -> None:
    """The oracle answers with the truth file's labels: they must be the config's categories."""
    extra = sorted(set(truth.values()) - set(categories))
    if extra:
        raise InputError(
            f"annotation.categories in the config is {list(categories)}, but the oracle's truth "
            f"file {path} labels images {sorted(set(truth.values()))}: {extra} would be labels no "
            "category names. Set annotation.categories to the truth's labels, the positive class "
            f"first (for the built-in data: {list(CATEGORIES)})."
        )


def _flip(filename: str, seed: int, noise: float) -> bool:
    h = hashlib.sha256(f"{seed}:{filename}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < noise


def oracle_records(
    filenames: list[str], truth: dict[str, str], image_root: str, noise: float = 0.0, seed: int = 0
) -> list[dict[str, Any]]:
    """JSON-MIN records as a careful human would export them; `noise` flips labels at random.

    A flip depends only on (seed, filename), so a rerun gives the same labels.
    """
    missing = [f for f in filenames if f not in truth]
    if missing:
        raise InputError(
            f"the oracle's truth file (annotation.oracle.truth) has no true label for {len(missing)} "
            f"image(s), e.g. {missing[:3]}. "
            "The oracle only works with the synthetic source; use another annotation backend."
        )
    records = []
    for i, name in enumerate(filenames, start=1):
        label = truth[name]
        if noise > 0 and _flip(name, seed, noise):
            label = CATEGORIES[1 - CATEGORIES.index(label)]
        records.append({"image": image_url(name, image_root), "id": i, "choice": label, "annotator": "oracle"})
    return records


def write_records(records: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")


#: JSON-MIN fields that are not the answer: the task's own, Label Studio's bookkeeping, ours.
_NOT_ANSWERS = {"image", "id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time", "skipped"}


def answer(record: dict[str, Any], categories: tuple[str, ...], where: str) -> str:
    """A JSON-MIN record's label, checked against the categories.

    JSON-MIN names the answer after the labeling interface's Choices control: `choice` in the
    pipeline's projects; in a project of the user's own, the one field whose value is a category.
    """
    if CONTROL in record:
        value = _one_choice(record[CONTROL], where)
    else:
        # a full export's records hold the Choices answer under `choice` already (from_full_export):
        # without it the task is unlabeled, whatever its data fields say
        found = (
            {}
            if "annotation_id" in record
            else {k: v for k, v in record.items() if k not in _NOT_ANSWERS and _is_category(v, categories)}
        )
        if len(found) != 1:
            raise InputError(f"{where}: no 'choice' field (unlabeled).")
        value = _one_choice(next(iter(found.values())), where)
    if value not in categories:
        raise InputError(f"{where}: label {value!r} is not one of {', '.join(categories)}.")
    return str(value)


def _is_category(value: object, categories: tuple[str, ...]) -> bool:
    value = _unwrap(value)
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, str) and v in categories for v in value)
    return isinstance(value, str) and value in categories


def _unwrap(value: object) -> object:
    """Older Label Studio JSON-MIN writes a Choices answer as `{"choices": [...]}`."""
    return value["choices"] if isinstance(value, dict) and set(value) == {"choices"} else value


def read_labels(path: Path, categories: tuple[str, ...] = CATEGORIES) -> dict[str, str]:
    """JPG name -> label from a JSON-MIN file; any bad record stops with its index and field."""
    records = load_export(path)
    labels: dict[str, str] = {}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or "image" not in rec:
            raise InputError(f"{path}, record {i}: no 'image' field.")
        _check_image(rec["image"], f"{path}, record {i}")
        labels[filename_of(rec["image"])] = answer(rec, categories, f"{path}, record {i} ({rec['image']})")
    return labels


def from_full_export(tasks: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    """JSON-MIN-like records from Label Studio's full JSON export, one per annotation.

    A cancelled (skipped) annotation becomes a record with `"skipped": true` and no `choice`, so
    that the image is reported as skipped rather than missing.
    """
    records = []
    for i, task in enumerate(tasks):
        image = (task.get("data") or {}).get("image")
        if image is None:
            raise InputError(f"{path}, task {i}: no data.image field.")
        _check_image(image, f"{path}, task {i}")
        for ann in task.get("annotations") or []:
            # as JSON-MIN writes it: the task's data fields, then who answered and when
            rec: dict[str, Any] = {
                **task["data"],
                "id": task.get("id"),
                "annotation_id": ann.get("id"),
                "updated_at": ann.get("updated_at"),
            }
            if ann.get("completed_by") is not None:
                rec["annotator"] = ann["completed_by"]
            if ann.get("was_cancelled"):
                records.append({**rec, "skipped": True})
                continue
            results = [r for r in ann.get("result") or [] if isinstance(r, dict)]
            ours = [r for r in results if r.get("from_name") == CONTROL]
            if not ours:  # a project of the user's own may name its one Choices control otherwise
                controls = {r.get("from_name") for r in results if r.get("type") == "choices"}
                if len(controls) > 1:
                    raise InputError(
                        f"{path}, task {i}: choices from several controls {sorted(map(str, controls))}; "
                        f"the pipeline reads the one named {CONTROL!r}. Rename it in the labeling interface."
                    )
                ours = [r for r in results if r.get("type") == "choices"]
            if results and not ours:
                kinds = sorted({str(r.get("type")) for r in results})
                raise InputError(
                    f"{path}, task {i}: its answers are {', '.join(kinds)}, not choices. The pipeline "
                    "reads a project whose labeling interface asks one question with Choices (track / "
                    "no track); export the tasks of that project."
                )
            choices: list[Any] = []
            for r in ours:
                picked = (r.get("value") or {}).get("choices", [])
                choices += [picked] if isinstance(picked, str) else list(picked)
            if choices:
                rec["choice"] = _one_choice(choices, f"{path}, task {i}")
            records.append(rec)
    return records


def _one_choice(value: object, where: str) -> object:
    """The one answer of a record, however the export spelled it: `"track"`, `["track"]` (a list
    of one, as a multiple-choice control writes it) or `{"choices": ["track"]}` (older Label
    Studio JSON-MIN). Several different answers to one image are refused, not cut to the first."""
    value = _unwrap(value)
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise InputError(f"{where}: the answer {value!r:.60} is not a label or a list of labels.")
        distinct = list(dict.fromkeys(value))
        if len(distinct) > 1:
            raise InputError(
                f"{where}: several answers {distinct} to one image; a task takes one choice. Make the "
                'labeling interface\'s Choices single-choice (choice="single"), fix the task and export again.'
            )
        return distinct[0] if distinct else None
    return value


#: Far more than any export of this pipeline's rounds (about 2 kB a task); anything bigger is
#: a wrong file, read no further.
MAX_EXPORT_BYTES = 1 << 30


def _read_json(path: Path) -> Any:
    """The parsed JSON of an export file, or one line saying what the file is instead."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; put the exported JSON file (JSON-MIN or JSON) there.")
    if not path.exists():
        raise InputError(f"{path}: no such file; put the exported JSON file (JSON-MIN or JSON) there.")
    if not path.is_file():
        raise InputError(
            f"{path}: not a regular file (a device, a pipe or a link to one); put the exported JSON "
            "file (JSON-MIN or JSON) there."
        )
    if path.stat().st_size > MAX_EXPORT_BYTES:
        raise InputError(
            f"{path}: {path.stat().st_size / 2**30:.1f} GiB is not a Label Studio export of a round; "
            "check that the right file is there."
        )
    raw = path.read_bytes()
    for magic, what in ((b"PK\x03\x04", "a ZIP archive"), (b"\x1f\x8b", "a gzip file")):
        if raw.startswith(magic):
            raise InputError(
                f"{path}: {what}, not a JSON export (Label Studio's COCO, YOLO and Pascal VOC downloads "
                f"come packed). {_FORMATS}"
            )
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark, as some editors save, is no harm
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}). Label Studio "
            "exports UTF-8: export again rather than saving the file in another encoding."
        ) from None
    if not text.strip():
        raise InputError(f"{path}: empty file; expected a Label Studio export (JSON-MIN or JSON).")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        for sep, what in ((",", "CSV"), ("\t", "TSV")):
            if sep in first and "image" in first.split(sep):
                raise InputError(f"{path}: a {what} export (its first line is {first[:60]!r}). {_FORMATS}") from None
        raise InputError(f"{path}: not valid JSON ({exc}). {_FORMATS}") from exc
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to be a Label Studio export.") from None


#: What to do with an export in a format the pipeline does not read.
_FORMATS = "The pipeline reads Label Studio's JSON and JSON-MIN exports: export the project again as one of those."


def _is_full(data: list[Any]) -> bool:
    return bool(data) and isinstance(data[0], dict) and "annotations" in data[0]


def load_export(path: Path) -> list[dict[str, Any]]:
    """JSON-MIN records from a Label Studio export file, JSON-MIN or full JSON."""
    data = _read_json(path)
    if not isinstance(data, list):
        coco = isinstance(data, dict) and {"images", "annotations", "categories"} <= set(data)
        raise InputError(
            f"{path}: expected a list of JSON-MIN records (or a full JSON export), got "
            f"{'a COCO export' if coco else type(data).__name__}." + (f" {_FORMATS}" if coco else "")
        )
    if _is_full(data):
        return from_full_export(data, path)
    return data


def is_full_export(path: Path) -> bool:
    """Whether an export is Label Studio's full JSON (which keeps skipped and unlabeled tasks)."""
    data = _read_json(path)
    return isinstance(data, list) and _is_full(data)


def unlabeled_message(export: Path, unlabeled: list[str], n_images: int, full: bool) -> str:
    """What to say of images an export leaves without a label, by the export's format: JSON-MIN
    leaves skipped tasks out, the full JSON keeps them, so only JSON-MIN has that excuse."""
    head = (
        f"{export}: {len(unlabeled)} of the {n_images} images to label have no label, e.g. {unlabeled[:3]}. "
        "Label them and export again."
    )
    if full:
        return (
            f"{head} This full JSON export holds no annotation for them: people have not labeled them yet "
            "(a skip would show as a cancelled annotation), or the export was made before they were done."
        )
    return (
        f"{head} If people skipped them on purpose: a JSON-MIN export leaves skipped tasks out; export as "
        "JSON (the full format), where a skip counts as done and the image is left out of training."
    )


class NotInSelection(InputError):
    """An export labels an image the set does not hold: the wrong file, or an earlier selection."""


#: Key under which `resolve` keeps a record's place in the export while it compares records.
_ORDER = "\0order"
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}


def _skipped(value: object, where: str) -> bool:
    """A record's `skipped` field as a boolean; a spreadsheet or script may have written it as a
    string ("false"), which Python would take as true and drop the label."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InputError(
        f"{where}: 'skipped' is {value!r}; expected true or false. Export the tasks from Label "
        "Studio again rather than editing the file."
    )


def _updated(record: dict[str, Any]) -> datetime | None:
    """When an annotation was last updated, or None for a record that does not say.

    Times are compared as times, not text: Label Studio writes `...Z` and `+00:00` alike.
    """
    value = record.get("updated_at")
    if isinstance(value, str) and value.strip():
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None


def resolve(
    records: list[dict[str, Any]],
    source: str,
    expected: list[str],
    categories: tuple[str, ...] = CATEGORIES,
    optional: Collection[str] = (),
    folders: Collection[str] | None = None,
    what: str = "this round's selection",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One JSON-MIN record per image from an export that may hold several per image.

    The rule: each image's label is the majority of its submitted annotations; a tie goes to the
    most recently updated annotation. Images every annotator skipped are left out of training and
    listed as `skipped`; images without any record as `unlabeled`; disagreements are listed too.
    Records for images outside `expected`, labels outside `categories` and records without a
    `choice` stop with an error naming the record, so nothing is silently dropped. `optional`
    images may be labeled but need not be (validation images the rule answers): a person's
    label of one is kept.
    """
    wanted = set(expected) | set(optional)
    skipped: set[str] = set()
    by_image: dict[str, list[dict[str, Any]]] = {}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or "image" not in rec:
            raise InputError(f"{source}, record {i}: no 'image' field.")
        _check_image(rec["image"], f"{source}, record {i}")
        name = filename_of(rec["image"])
        if name not in wanted:
            raise NotInSelection(
                f"{source}, record {i}: image {name!r} is not in {what}. Export only this set's "
                "tasks, or put the record in the file of its own round."
            )
        folder = folder_of(rec["image"])
        if folders is not None and folder is not None and not in_folders(folder, folders):
            raise InputError(
                f"{source}, record {i} ({name}): the labeled image is in {folder!r}, not where this "
                f"run's images are ({', '.join(sorted(folders))}): a label of another dataset's or "
                "bucket's file of the same name. Export the tasks of the project that shows this "
                "run's images; if that folder holds copies of them, add it to "
                "annotation.image_folders in the config."
            )
        if _skipped(rec.get("skipped", False), f"{source}, record {i} ({name})"):
            skipped.add(name)
            continue
        choice = answer(rec, categories, f"{source}, record {i} ({name})")
        by_image.setdefault(name, []).append({**rec, CONTROL: choice, _ORDER: i})
    resolved, disagreements = [], []
    extra = sorted(n for n in by_image if n not in set(expected))
    for name in [*expected, *extra]:
        recs = by_image.get(name)
        if not recs:
            continue
        votes: dict[str, int] = {}
        for r in recs:
            votes[r["choice"]] = votes.get(r["choice"], 0) + 1
        top = max(votes.values())
        tied = {c for c, v in votes.items() if v == top}
        # the latest update; unless every tied record says when, the later record of the file (a
        # correction appended by hand has no time, and must not lose to Label Studio's)
        candidates = [r for r in recs if r["choice"] in tied]
        timed = all(_updated(r) is not None for r in candidates)
        latest = max(candidates, key=lambda r: (_updated(r), r[_ORDER]) if timed else r[_ORDER])
        latest = {k: v for k, v in latest.items() if k != _ORDER}
        resolved.append(latest)
        if len(votes) > 1:
            disagreements.append({"filename": name, "votes": votes, "chosen": latest["choice"]})
    report = {
        "n_expected": len(expected),
        "n_labeled": len(resolved),
        "skipped": [n for n in expected if n in skipped and n not in by_image],
        "unlabeled": [n for n in expected if n not in by_image and n not in skipped],
        "disagreements": disagreements,
        "rule": (
            "majority of submitted annotations; ties go to the latest update (without times, the later "
            "record of the export); skipped images are left out"
        ),
    }
    return resolved, report
