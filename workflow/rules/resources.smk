# Cluster resources of the rules: runtime, memory and GPUs from the number of images a job sees.
# Site settings (partition, account, limits) belong in a profile (profiles/slurm), not here.


# Cluster resources, from the `benchmark:` files of a default-config run on 2 CPU cores
# (logs/benchmarks/ of `make run`, 2026-12-07, the slower development host; docs/cluster.md,
# "Resources"): seconds per image, process start included,
# rounded up. A job asks for twice the measured time plus 10 minutes, more on each retry, and a
# base memory (the PyTorch rules peak at 1.4-2.0 GB on 506 images) plus a share per image.
SECONDS_PER_IMAGE = {
    "synthesize": 0.006,  # 20 s for 3,400 images
    "download": 0.05,  # 307 images/s from S3 on 127.0.0.1; a remote bucket is slower
    "convert": 0.02,  # 1.3-1.6 s for a shard of 88 images
    "embed_epoch": 0.05,  # 234 s for 506 images x 10 epochs in float32 (139 s in bf16-mixed)
    "train": 0.07,  # 24-35 s for a pool of 506 (the validation images scored, the model saved)
    "predict": 0.02,  # 8.7 s for 506
    "select": 0.01,  # 0.9 s for 707, the process's start included
}
MB_PER_IMAGE = 0.2
GPUS = 1 if config["accelerator"] == "gpu" else 0


def rows(path):
    """Data rows of a CSV (its lines but the header): the size a job's resources follow."""
    with open(path, "rb") as f:
        return max(0, sum(1 for _ in f) - 1)


def train_rows(split):
    """Images of the training pool in split.csv."""
    with open(split) as f:
        return sum(1 for line in f if line.rstrip().endswith(",train"))


def minutes(seconds, attempt=1):
    """SLURM runtime (minutes) for a job measured at `seconds`, scaled up on each retry."""
    return (10 + math.ceil(2 * seconds / 60)) * attempt


def megabytes(n_images, base=3000):
    """Memory (MB) for a job that holds `n_images` decoded images at its peak."""
    return int(base + MB_PER_IMAGE * n_images)


def simclr_sample(pool):
    """Images SimCLR trains on (and holds in memory) for a training pool of `pool` images."""
    return min(pool, config["embed"]["train_images"] or math.inf)


def embed_seconds(pool):
    """Seconds the embed job takes: the epochs over SimCLR's sample (none without SimCLR), then
    every image of the pool embedded once, at about a prediction's cost an image."""
    epochs = 0 if config["embed"]["ssl"] == "none" else config["embed"]["epochs"]
    return (
        simclr_sample(pool) * epochs * SECONDS_PER_IMAGE["embed_epoch"]
        + pool * SECONDS_PER_IMAGE["predict"]
    )
