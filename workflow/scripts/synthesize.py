"""Generate the built-in synthetic BPS-like dataset."""

from pathlib import Path

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.synthetic import SyntheticSpec, generate

generate(
    Path(snakemake.output.meta).parent,
    Path(snakemake.output.truth),
    SyntheticSpec(
        n_images=snakemake.params.n_images,
        seed=snakemake.params.seed,
        artefact_fraction=snakemake.params.artefact_fraction,
        **snakemake.params.generator,
    ),
    image_dir=Path(snakemake.output.tiffs),
    workers=snakemake.threads,
)
