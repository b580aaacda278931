"""The labeling stage: people's labels and what they were given.

`store` keeps the label store (`annotations/`) outside Snakemake's reach; `annotations` reads and
writes Label Studio's JSON-MIN exports and simulates a labeler; `labelstudio` talks to a real
server, `labelstudio_server` starts one; `known_answers` is the rule that answers images whose
condition decides the label.
"""
