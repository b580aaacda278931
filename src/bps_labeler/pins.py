"""Per-image checksums of the S3 source, so a rerun a year later gets the same images or says why not.

`meta.csv` is pinned by `source.s3.meta_sha256`; the images are pinned by a TSV of `filename` and
`sha256` (`source.s3.pins`), written from a finished run's download manifests and committed with
the config. Every download is checked against it: an image whose bytes changed in the bucket stops
the run with the list of what changed, rather than training on other data under the same name.

    python -m bps_labeler.pins resources/raw/shards/download_*.tsv > config/bps-pins.tsv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from bps_labeler.errors import InputError, exit_status


def read_pins(path: Path) -> dict[str, str]:
    """filename -> sha256 from a pins TSV, checked."""
    try:
        df = pd.read_csv(path, sep="\t", dtype=str)
    except FileNotFoundError:
        raise InputError(f"{path}: the pins file in source.s3.pins does not exist.") from None
    missing = {"filename", "sha256"} - set(df.columns)
    if missing:
        raise InputError(f"{path}: pins need the columns filename and sha256; missing {sorted(missing)}.")
    return dict(zip(df["filename"], df["sha256"]))


def pins_from_manifests(manifests: list[Path]) -> pd.DataFrame:
    """The pins of every image the download shards fetched (their manifests hold the checksums)."""
    absent = [str(p) for p in manifests if not Path(p).is_file()]
    if absent:
        raise InputError(f"no download manifest at {', '.join(absent)}: run the downloads first (snakemake).")
    parts = [pd.read_csv(p, sep="\t", dtype=str) for p in manifests]
    df = pd.concat(parts) if parts else pd.DataFrame(columns=["filename", "sha256", "status"])
    if "sha256" not in df.columns:
        raise InputError(f"{manifests[0]}: no sha256 column; download again with this version to pin.")
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
