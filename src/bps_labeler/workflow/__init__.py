"""What the Snakemake workflow and the `bps-labeler` command need around the stages: job logs,
killed-run locks, a run's status, DVC versioning and experiments beside the main results.

This layer may import every stage; no stage imports it.
"""
