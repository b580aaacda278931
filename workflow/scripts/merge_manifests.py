"""One folder and one manifest of every converted image: the sign that all shards are done."""

from pathlib import Path

from bps_labeler.workflow import logs

# the job's log first: a Ctrl-C or a failure while the libraries load lands in it too
logs.to_file(snakemake.log[0])

from bps_labeler.data.convert import merge_shards

out = Path(snakemake.output.images)
manifest = merge_shards([Path(p) for p in snakemake.input.manifests], [Path(p) for p in snakemake.input.shards], out)
manifest.to_csv(out / "manifest.tsv", sep="\t", index=False)
