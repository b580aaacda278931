"""Per-image checksums of the S3 source, so a rerun a year later gets the same images or says why not.

`meta.csv` is pinned by `source.s3.meta_sha256`; the images are pinned by a TSV of `filename` and
`sha256` (`source.s3.pins`), written from a finished run's download manifests and committed with
the config. Every download is checked against it: an image whose bytes changed in the bucket stops
the run with the list of what changed, rather than training on other data under the same name.

    python -m bps_labeler.data.pins resources/raw/shards/download_*.tsv > config/bps-pins.tsv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from bps_labeler.errors import InputError, exit_status


def _read_tsv(path: Path, columns: set[str], what: str) -> pd.DataFrame:
    """A TSV with at least `columns`, or one line naming the file and what it lacks."""
    try:
        df = pd.read_csv(path, sep="\t", dtype=str)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty; expected {what} (columns {', '.join(sorted(columns))}).") from None
    missing = columns - set(df.columns)
    if missing:
        raise InputError(
            f"{path}: not {what}: no column(s) {', '.join(sorted(missing))} (found {', '.join(map(str, df.columns))})."
        )
    return df


def read_pins(path: Path) -> dict[str, str]:
    """filename -> sha256 from a pins TSV, checked."""
    if not Path(path).is_file():
        raise InputError(f"{path}: the pins file in source.s3.pins does not exist.")
    df = _read_tsv(path, {"filename", "sha256"}, "a pins file")
    return dict(zip(df["filename"], df["sha256"]))


def pins_from_manifests(manifests: list[Path]) -> pd.DataFrame:
    """The pins of every image the download shards fetched (their manifests hold the checksums)."""
    absent = [str(p) for p in manifests if not Path(p).is_file()]
    if absent:
        raise InputError(f"no download manifest at {', '.join(absent)}: run the downloads first (snakemake).")
    what = "a download manifest (resources/raw/shards/download_<n>.tsv; rerun its download job)"
    parts = [_read_tsv(p, {"filename", "sha256", "status"}, what) for p in manifests]
    df = pd.concat(parts) if parts else pd.DataFrame(columns=["filename", "sha256", "status"])
    df = df[df["status"] != "missing"]
    return df[["filename", "sha256"]].sort_values("filename").reset_index(drop=True)


def changed(rows: list[dict], pins: dict[str, str]) -> list[str]:
    """What differs from the pins, one line per image: a changed checksum or an image never pinned."""
    out = []
    for r in rows:
        if r["status"] == "missing":
            continue
        pinned = pins.get(r["filename"])
        if pinned is None:
            out.append(f"{r['filename']} (not pinned)")
        elif pinned != r["sha256"]:
            out.append(f"{r['filename']} (pinned {pinned[:12]}, now {r['sha256'][:12]})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", nargs="+", type=Path, help="resources/raw/shards/download_*.tsv")
    args = parser.parse_args(argv)
    return exit_status(lambda: pins_from_manifests(args.manifests).to_csv(sys.stdout, sep="\t", index=False))


if __name__ == "__main__":
    sys.exit(main())
