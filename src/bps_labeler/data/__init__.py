"""The data stage: the BPS `meta.csv`, the synthetic set, S3 sources and their pins, conversion of
16-bit TIFFs to 8-bit JPGs in shards, per-image quality metadata and the train/validation split.

Everything later reads what this stage writes (`results/data/`); it imports no later stage.
Modules: `meta`, `synthetic`, `s3`, `pins`, `convert` (with `pixel_loops`), `images` (decoding
for the networks), `lightly_metadata`, `split`, `datasource_layout`.
"""
