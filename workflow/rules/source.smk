# Where meta.csv and the raw TIFFs come from.


if config["source"]["kind"] == "synthetic":

    rule synthesize:
        output:
            meta="resources/raw/meta.csv",
            tiffs=directory("resources/raw/tiffs"),
            truth=config["annotation"]["oracle"]["truth"],
        log:
            "logs/synthesize.log",
        benchmark:
            "logs/benchmarks/synthesize.tsv"
        conda:
            CONDA_ENV
        # images render in parallel, byte for byte as in one process
        threads: 4
        resources:
            mem_mb=1000,
            runtime=lambda wildcards, attempt: minutes(
                config["source"]["synthetic"]["n_images"] * SECONDS_PER_IMAGE["synthesize"],
                attempt,
            ),
        params:
            n_images=config["source"]["synthetic"]["n_images"],
            artefact_fraction=config["source"]["synthetic"]["artefact_fraction"],
            generator=config["source"]["synthetic"]["generator"],
            seed=config["seed"],
        script:
            "../scripts/synthesize.py"

elif config["source"]["kind"] == "s3":

    rule fetch_meta:
        output:
            meta="resources/raw/meta.csv",
        log:
            "logs/fetch_meta.log",
        localrule: True
        conda:
            CONDA_ENV
        params:
            s3=config["source"]["s3"],
        script:
            "../scripts/fetch_meta.py"

    rule download:
        input:
            unpack(image_pins),
            meta="results/data/filtered_meta.csv",
        output:
            manifest="resources/raw/shards/download_{shard}.tsv",
            tiffs=directory("resources/raw/shards/tiffs_{shard}"),
        log:
            "logs/download/{shard}.log",
        benchmark:
            "logs/benchmarks/download/{shard}.tsv"
        # compute nodes often have no internet (source.s3.download_local)
        localrule: config["source"]["s3"]["download_local"]
        conda:
            CONDA_ENV
        threads: 4
        resources:
            mem_mb=1000,
            runtime=lambda wildcards, input, attempt: minutes(
                rows(input.meta) / len(SHARDS) * SECONDS_PER_IMAGE["download"], attempt
            ),
        params:
            s3=config["source"]["s3"],
            n_shards=config["convert"]["shards"],
            # every image fetched so far, kept across reruns: Snakemake empties `tiffs` before
            # a rerun, so an interrupted download resumes from here (linked, not copied)
            cache="resources/raw/cache",
        script:
            "../scripts/download.py"
