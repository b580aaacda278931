"""Reading, checking and filtering the BPS `meta.csv`.

The real file is 77,177 rows and changes over time; every row that reaches the pipeline is checked
here once, so later stages can trust names and values.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Collection, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from bps_labeler.errors import InputError

META_COLUMNS: tuple[str, ...] = ("filename", "dose_Gy", "particle_type", "hr_post_exposure")
PARTICLE_TYPES: tuple[str, ...] = ("Fe", "X-ray")
#: Far beyond any exposure: a dose in Gy, hours after exposure.
MAX_VALUE = {"dose_Gy": 1_000_000, "hr_post_exposure": 1_000_000}


def stem(filename: str) -> str:
    """The image's name without folder and extension; JPGs, metadata and predictions use it."""
    return PurePosixPath(filename).stem


def jpg_name(filename: str) -> str:
    """The converted image's file name, as the Lightly datasource and Label Studio see it."""
    return f"{stem(filename)}.jpg"


def _check_filename(name: object, row: int, path: Path) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{path}, row {row}: empty filename. Fill in the image's file name.")
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or "\\" in name or len(p.parts) != 1:
        raise InputError(
            f"{path}, row {row}: filename {name!r} is not a plain file name (it has a folder, "
            "'..' or is absolute). meta.csv must name images beside it; fix or drop the row."
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InputError(
            f"{path}, row {row}: filename {name!r} has a control character (a tab or a line "
            "break); image names are one line of printable text. Fix or drop the row."
        )
    if name != name.strip():
        raise InputError(
            f"{path}, row {row}: filename {name!r} begins or ends with a space, which a spreadsheet "
            "shows to no one; remove it (or rename the file to match)."
        )
    if p.name.startswith("."):  # '.tif' has no name; '.a.tif' would be a hidden JPG that globs skip
        raise InputError(
            f"{path}, row {row}: filename {name!r} begins with a dot (no name before .tif, or a hidden "
            "file); rename the image and its row."
        )
    if p.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(f"{path}, row {row}: filename {name!r} is not a .tif file.")


def _text(path: Path) -> str:
    if not path.exists():
        raise InputError(f"{path}: meta.csv not found. Check `source` in the config.")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a CSV file. Point `source` at the folder that holds meta.csv.")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line}). Save it as UTF-8 "
            "(in a spreadsheet: CSV UTF-8), or fix the file name on that line."
        ) from None


def _header(path: Path, reader: Iterator[list[str]]) -> list[str]:
    header = [c.strip() for c in next(reader, [])]
    if not header:
        raise InputError(f"{path}: the file is empty; expected a header {','.join(META_COLUMNS)}")
    for sep, what in ((";", "semicolons"), ("\t", "tabs")):
        if len(header) == 1 and sep in header[0]:
            raise InputError(
                f"{path}: the fields are separated by {what}, not commas (as a spreadsheet in some "
                "languages saves CSV). Save it as comma-separated CSV with points for decimals."
            )
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise InputError(f"{path}: column {twice[0]!r} appears twice in the header; keep one of them.")
    return header


def _rows(path: Path, reader: Any, width: int) -> tuple[list[list[str]], list[int]]:
    """The data rows, and the line each starts on as an editor shows it (blank lines counted)."""
    rows, lines = [], []
    while True:
        start = reader.line_num + 1  # a quoted line break makes a row end on a later line
        row = next(reader, None)
        if row is None:
            break
        if not any(field.strip() for field in row):  # blank or whitespace-only lines carry nothing
            continue
        if len(row) != width:
            raise InputError(
                f"{path}, row {start}: expected {width} fields, saw {len(row)}. A value "
                "holds a comma (a decimal comma, or an unquoted name): use a point for decimals and "
                "quote such fields."
            )
        rows.append(row)
        lines.append(start)
    if not rows:
        raise InputError(f"{path}: has a header but no rows; a BPS meta.csv lists one image per row.")
    return rows, lines


def _first(bad: pd.Series) -> int:
    return int(bad.to_numpy().nonzero()[0][0])


def _check_filenames(df: pd.DataFrame, lines: list[int], path: Path) -> None:
    for line, name in zip(lines, df["filename"]):
        _check_filename(name, line, path)
    dup = df["filename"].duplicated(keep="first")
    if dup.any():
        i = _first(dup)
        first = _first(df["filename"] == df["filename"].iloc[i])
        raise InputError(
            f"{path}, row {lines[i]}: duplicate filename {df['filename'].iloc[i]!r} (first at row "
            f"{lines[first]}). Each image must appear once; remove the duplicate row."
        )
    dup = df["filename"].map(stem).duplicated()
    if dup.any():
        i = _first(dup)
        raise InputError(
            f"{path}, row {lines[i]}: {df['filename'].iloc[i]!r} has the same stem as an earlier row, "
            "so both would convert to the same JPG. Rename one of them."
        )


def _check_particles(df: pd.DataFrame, lines: list[int], path: Path) -> None:
    bad = ~df["particle_type"].isin(PARTICLE_TYPES)
    if bad.any():
        i = _first(bad)
        raise InputError(
            f"{path}, row {lines[i]}: unknown particle_type {df['particle_type'].iloc[i]!r}; "
            f"allowed: {', '.join(PARTICLE_TYPES)}."
        )


def _check_numbers(df: pd.DataFrame, lines: list[int], path: Path) -> None:
    """Dose and hours as numbers, in place: non-negative, finite, in range, hours whole."""
    for col, kind in (("dose_Gy", float), ("hr_post_exposure", int)):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values < 0) | ~np.isfinite(values.fillna(0))
        if kind is int:
            bad |= values.notna() & (values != values.round())
        if bad.any():
            i = _first(bad)
            raise InputError(
                f"{path}, row {lines[i]}: {col} = {df[col].iloc[i]!r} is not a non-negative "
                f"{'integer' if kind is int else 'number'}."
            )
        big = values > MAX_VALUE[col]
        if big.any():  # 1e23 hours is whole and finite, and wrapped to a negative int64
            i = _first(big)
            raise InputError(
                f"{path}, row {lines[i]}: {col} = {df[col].iloc[i]!r} is out of range (at most "
                f"{MAX_VALUE[col]:,}); check the row."
            )
        df[col] = values.astype(kind)


#: The checks of the rows, in the order a person would fix them; each names the first bad row.
ROW_CHECKS = (_check_filenames, _check_particles, _check_numbers)


def read_meta(path: Path) -> pd.DataFrame:
    """Read and check a BPS meta.csv; raise InputError naming the row for anything wrong.

    Row numbers in messages are the line numbers a person sees in an editor (header = line 1).
    """
    path = Path(path)
    reader = csv.reader(io.StringIO(_text(path)))
    header = _header(path, reader)
    rows, lines = _rows(path, reader, len(header))
    missing = [c for c in META_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(repr, header))}. "
            f"A BPS meta.csv has the header {','.join(META_COLUMNS)}."
        )
    df = pd.DataFrame(rows, columns=header, dtype=str)[list(META_COLUMNS)].copy()
    for check in ROW_CHECKS:
        check(df, lines, path)
    return df


def filter_meta(df: pd.DataFrame, spec: dict[str, Any], given: Collection[str] = ()) -> pd.DataFrame:
    """Keep the rows a config `filter:` asks for; an empty result is an error, not a silent no-op.

    `spec` keys (all optional): particle_types (list), dose_min, dose_max, hours (list),
    max_images (cap, taken deterministically per condition so the cap keeps the balance).
    `given`: TIFF names a cap must not drop (images people were given: their labels stay usable
    when the cap's shares change).
    """
    keep = pd.Series(True, index=df.index)
    if spec.get("particle_types"):
        keep &= df["particle_type"].isin(spec["particle_types"])
    if spec.get("dose_min") is not None:
        keep &= df["dose_Gy"] >= float(spec["dose_min"])
    if spec.get("dose_max") is not None:
        keep &= df["dose_Gy"] <= float(spec["dose_max"])
    if spec.get("hours"):
        keep &= df["hr_post_exposure"].isin([int(h) for h in spec["hours"]])
    out = df[keep]
    if out.empty:
        raise InputError(
            f"filter {spec} keeps no row of {len(df)}. Widen `filter` in the config; the data "
            f"has particle types {sorted(df['particle_type'].unique().tolist())}, doses "
            f"{sorted(df['dose_Gy'].unique().tolist())} and hours "
            f"{sorted(df['hr_post_exposure'].unique().tolist())}."
        )
    cap = spec.get("max_images")
    if cap is not None and len(out) > int(cap):
        out = _cap_per_condition(out, int(cap), given)
    return out.sort_values("filename", kind="stable").reset_index(drop=True)


CONDITION = ["particle_type", "dose_Gy", "hr_post_exposure"]


def _cap_per_condition(df: pd.DataFrame, cap: int, given: Collection[str] = ()) -> pd.DataFrame:
    """Take `cap` rows, each condition in proportion to its size and at least one of each, by
    sorted filename: a cap must not drop a condition (the last ones in sort order were lost to
    rounding before), since every condition is a question the data set answers. Rows `given`
    come first in their condition and are never dropped, even past the cap."""
    kept = set(given)
    order = df.assign(_given=~df["filename"].isin(kept)).sort_values(["_given", "filename"])
    groups = [g.drop(columns="_given") for _, g in order.groupby(CONDITION, sort=True)]
    if cap < len(groups):
        raise InputError(
            f"filter.max_images = {cap} is fewer than the {len(groups)} conditions (particle, dose, "
            f"hours) the filter keeps; each condition needs at least one image. Set max_images to "
            f"at least {len(groups)}, or narrow the filter to fewer conditions."
        )
    # one image each, the rest by largest remainder in proportion to what each has left
    spare = [len(g) - 1 for g in groups]
    extra = cap - len(groups)
    quotas = [extra * n / sum(spare) for n in spare]
    counts = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(groups)), key=lambda i: (counts[i] - quotas[i], i))
    for i in by_remainder[: extra - sum(counts)]:
        counts[i] += 1
    n_given = [int(g["filename"].isin(kept).sum()) for g in groups]
    return pd.concat([g.head(max(1 + c, n)) for g, c, n in zip(groups, counts, n_given)])
