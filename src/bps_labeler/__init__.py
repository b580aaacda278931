"""Active-learning labeling of NASA BPS microscopy images: the library behind the workflow.

Subpackages follow the pipeline, each importing only those before it (tests/test_layout.py):

    utils        helpers no stage owns
    data         meta.csv, synthetic set, S3, conversion, quality metadata, split
    embeddings   SimCLR backbone and the embeddings CSV
    selection    Lightly Worker configs on Lightly's engine
    labeling     the label store, Label Studio, exports, known answers
    models       the classifier, its predictions, inference and metrics
    evaluation   figures beside their baselines, the learning curve, the readout
    report       the Snakemake report's pictures and map
    publish      a round as a Lightly datasource
    workflow     logs, locks, status, DVC and experiments around the stages

Everything here takes paths and plain values, never the `snakemake` object, so it is tested
without Snakemake.
"""

__version__ = "0.1.0"
