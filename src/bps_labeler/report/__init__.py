"""The Snakemake report's pictures (`figures`) and its interactive embedding map (`interactive_map`)."""
