"""Active-learning labeling of NASA BPS microscopy images: the library behind the workflow.

Everything here takes paths and plain values, never the `snakemake` object, so it is tested
without Snakemake.
"""

__version__ = "0.1.0"
