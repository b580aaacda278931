#!/usr/bin/env bash
# Run by Snakemake inside the new conda environment (`--sdm conda`): install the project's own
# package, bps_labeler, from the checkout the workflow runs from. The Snakefile exports its path
# as BPS_LABELER_SRC (Snakemake copies this script away, so it cannot find the checkout itself).
# Editable, so that a pulled change to src/ reaches the jobs without rebuilding the environment.
set -euo pipefail
if [[ -z "${BPS_LABELER_SRC:-}" || ! -f "$BPS_LABELER_SRC/pyproject.toml" ]]; then
    echo "bps.post-deploy.sh: BPS_LABELER_SRC (${BPS_LABELER_SRC:-unset}) is not the project's checkout;" \
         "run snakemake with this repository's workflow/Snakefile" >&2
    exit 1
fi
python -m pip install --no-deps --editable "$BPS_LABELER_SRC"
