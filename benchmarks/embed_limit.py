"""How close do the embedding and the prediction pass run to what this machine's network allows?

In one run, on the same machine, at the embedding's settings (config/config.yaml's `embed`):

1. **SimCLR, the network alone**: forward and backward of the backbone and projection head on two
   views of a batch of random tensors, the loss and the optimizer step; no data at all.
2. **SimCLR, the pipeline's loop**: `embeddings.simclr.fit_simclr` on images decoded once (the
   decoding timed apart, as the pipeline does it once per run), with the augmentations, the
   DataLoader and the Lightning Trainer; and the augmentations alone (the DataLoader drained
   without the network).
3. **Prediction, the network alone**: the classifier's forward pass on random tensors in batches
   of 256; and **the pipeline's pass** (`models.network.predict_proba`): decoding, the foci-and-
   line features and the network.

Images per second each, and the ratios loop / network (goal, issue 30: at least 0.85 for SimCLR).
Reads the images of a finished run (default: this repository's `make run`, results/data/images)
and, for prediction, its round-1 model. Writes docs/results/embed_limit[_<tag>].{tsv,md}.

    .venv/bin/python benchmarks/embed_limit.py [--workdir DIR] [--images N] [--precision bf16-mixed] [--tag T]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from bps_labeler.data.images import load_images
from bps_labeler.embeddings.simclr import EmbedSpec, SimCLR, fit_simclr, simclr_loader
from bps_labeler.models.network import load_network, predict_proba
from bps_labeler.utils.accelerator import training_precision

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("embed_limit")


def network_simclr(spec: EmbedSpec, steps: int, precision: str) -> float:
    """Images a second (one image = its two views) of SimCLR's step on random tensors, in the
    arithmetic and layout the pipeline's loop uses."""
    torch.manual_seed(0)
    model = SimCLR(spec.backbone, spec.lr, spec.temperature, spec.epochs).train()
    model.lay_out_for(precision)  # as fit_simclr does
    opt = model.configure_optimizers()[0][0]
    views = [torch.randn(spec.batch_size, 3, spec.input_size, spec.input_size) for _ in range(2)]

    def step() -> None:
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
            loss = model.training_step((views, torch.zeros(spec.batch_size)), 0)
        loss.backward()
        opt.step()

    model.log = lambda *a, **k: None  # no Trainer here
    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * spec.batch_size / (time.perf_counter() - start)


def pipeline_simclr(spec: EmbedSpec, images: list) -> tuple[float, float]:
    """Images a second of the pipeline's SimCLR fit (epochs of `spec`), and of its augmentations alone."""
    loader = simclr_loader(images, spec)
    start = time.perf_counter()
    for _ in loader:
        pass
    augment = len(loader) * spec.batch_size / (time.perf_counter() - start)
    model = SimCLR(spec.backbone, spec.lr, spec.temperature, spec.epochs)
    start = time.perf_counter()
    fit_simclr(model, images, spec, None, log)
    fit = spec.epochs * len(loader) * spec.batch_size / (time.perf_counter() - start)
    return fit, augment


def network_predict(net: torch.nn.Module, n: int, batch: int = 256) -> float:
    x = torch.randn(batch, 3, net.input_size, net.input_size)
    extra = torch.zeros(batch, net.extra_mean.numel())
    with torch.no_grad():
        net(x, extra)
        start = time.perf_counter()
        for _ in range(max(1, n // batch)):
            net(x, extra)
    return max(1, n // batch) * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=REPO)
    parser.add_argument("--images", type=int, default=512, help="images the SimCLR loop trains on")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the timed SimCLR loop")
    parser.add_argument("--steps", type=int, default=16, help="steps of the network-alone SimCLR timing")
    parser.add_argument("--tag", default="", help="suffix of the table's name (before, after)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--precision", help="embed.precision to time (default: the config's)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load((args.workdir / "config" / "config.yaml").read_text())
    embed = {k: v for k, v in config["embed"].items() if k in EmbedSpec.__dataclass_fields__}
    spec = EmbedSpec(**{**embed, "epochs": args.epochs, **({"precision": args.precision} if args.precision else {})})
    image_dir = args.workdir / "results" / "data" / "images"
    names = sorted(p.name for p in image_dir.glob("*.jpg"))[: args.images]

    start = time.perf_counter()
    images = load_images(image_dir, names, spec.input_size, spec.foci_channel, args.threads)  # as train_embeddings
    decode = len(names) / (time.perf_counter() - start)
    precision = training_precision(spec.precision, "cpu")
    net = network_simclr(spec, args.steps, precision)
    fit, augment = pipeline_simclr(spec, images)

    model = load_network(args.workdir / "results" / "round_1" / "model.ckpt")
    net_predict = network_predict(model, len(names))
    start = time.perf_counter()
    predict_proba(model, image_dir, names, threads=args.threads)
    predict = len(names) / (time.perf_counter() - start)

    rows = [
        ("SimCLR step, network alone (random tensors)", net, 1.0),
        ("SimCLR fit, the pipeline's loop (augmentations, loader, Trainer)", fit, fit / net),
        ("SimCLR augmentations alone (loader drained, no network)", augment, augment / net),
        ("decoding and foci channel, once per run", decode, decode / net),
        ("prediction, network alone (batches of 256)", net_predict, 1.0),
        ("prediction, the pipeline's pass (decoding, line features, network)", predict, predict / net_predict),
    ]
    table = pd.DataFrame(rows, columns=["what", "images_per_s", "ratio_to_network"]).round(3)
    tag = f"_{args.tag}" if args.tag else ""
    out = REPO / "docs" / "results"
    table.to_csv(out / f"embed_limit{tag}.tsv", sep="\t", index=False)
    settings = (
        f"{spec.backbone}, {spec.input_size} px, batch {spec.batch_size}, foci channel {spec.foci_channel}, "
        f"SimCLR in {precision} precision, "
        f"{len(names)} images x {spec.epochs} epochs in the loop, {args.threads} threads"
    )
    (out / f"embed_limit{tag}.md").write_text(
        f"# Embedding and prediction against the network's own speed{(' (' + args.tag + ')') if tag else ''}\n\n"
        f"`benchmarks/embed_limit.py{' --precision ' + args.precision if args.precision else ''}"
        f"{' --tag ' + args.tag if tag else ''}`, {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} cores; {settings}. Ratio: to the network alone of the same pass (SimCLR rows to "
        "the SimCLR step, prediction rows to the prediction forward pass).\n\n" + table.to_markdown(index=False) + "\n"
    )
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
