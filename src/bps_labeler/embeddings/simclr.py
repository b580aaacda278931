"""Self-supervised training of the backbone on the pool (SimCLR from lightly's parts).

The embeddings are written as a Lightly embeddings CSV (embeddings.io) and the backbone is kept
to start the classifier from (embeddings.backbone).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from lightly.transforms import SimCLRTransform
from lightning.pytorch.loggers import Logger
from sklearn.decomposition import PCA
from torch.utils.data import DataLoader

from bps_labeler.data.images import ImageList, load_images
from bps_labeler.embeddings.backbone import (
    NORMALIZE,
    brought_weights,
    features,
    features_of_files,
    make_backbone,
)
from bps_labeler.embeddings.io import embeddings_frame, write_embeddings
from bps_labeler.errors import InputError
from bps_labeler.utils.accelerator import check_accelerator, training_precision
from bps_labeler.utils.epoch_progress import quiet_trainer
from bps_labeler.utils.files import write_or_explain

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbedSpec:
    backbone: str = "resnet18"
    input_size: int = 128
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    temperature: float = 0.2
    dim: int = 64
    #: Feed the network the image's foci map (white top-hat) beside the image; see images.foci_map.
    foci_channel: bool = True
    #: SimCLR trains on a seeded sample of at most this many images; None = all of them. The
    #: schema's default (embed.train_images), which the rule passes only when it is set otherwise.
    train_images: int | None = 1200
    seed: int = 0
    accelerator: str = "cpu"
    #: A weights file to start from (None: random initialisation).
    weights: str | None = None
    #: SimCLR on the pool: `scratch` (from random weights, today's default), `finetune` (from
    #: `weights`) or `none` (embed with `weights` as they are).
    ssl: str = "scratch"
    #: SimCLR's arithmetic: "32" (float32, the default), "bf16-mixed" (bfloat16 mixed precision
    #: and channels-last: about twice as fast where the device has bfloat16 natively) or `auto`
    #: (bf16-mixed where it has, 32 elsewhere); utils.accelerator.training_precision.
    precision: str = "32"


SSL_MODES = ("scratch", "finetune", "none")


class SimCLR(L.LightningModule):
    def __init__(self, backbone: str, lr: float, temperature: float, max_epochs: int) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.backbone, n = make_backbone(backbone)
        self.projection_head = SimCLRProjectionHead(n, n, 128)
        self.criterion = NTXentLoss(temperature=temperature)
        self.fast_layout = False

    def training_step(self, batch: tuple[list[torch.Tensor], torch.Tensor], _: int) -> torch.Tensor:
        # the batch in the model's layout: channels-last in bfloat16 (fit_simclr), else as it comes
        layout = torch.channels_last if self.fast_layout else torch.contiguous_format
        x0, x1 = (x.contiguous(memory_format=layout) for x in batch[0])
        z0 = self.projection_head(self.backbone(x0))
        z1 = self.projection_head(self.backbone(x1))
        loss = self.criterion(z0, z1)
        self.log("train_loss", loss, prog_bar=True, on_epoch=True, on_step=False)
        return loss

    def lay_out_for(self, precision: str) -> None:
        """Channels-last weights (and batches) for bfloat16, where oneDNN runs them fastest; the
        usual layout otherwise."""
        self.fast_layout = precision == "bf16-mixed"
        self.to(memory_format=torch.channels_last if self.fast_layout else torch.contiguous_format)

    def configure_optimizers(self):  # type: ignore[override]
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.hparams.max_epochs))
        return [opt], [sched]


def simclr_views(input_size: int) -> SimCLRTransform:
    """SimCLR augmentations tuned for single grayscale nuclei.

    Foci are a few pixels wide, so crops keep most of the nucleus and blur is rare; the image has
    no up or down, so all flips and 90-degree rotations are free; colour has no meaning.
    """
    return SimCLRTransform(
        input_size=input_size,
        cj_prob=0.8,
        cj_bright=0.4,
        cj_contrast=0.4,
        cj_sat=0.0,
        cj_hue=0.0,
        min_scale=0.4,
        random_gray_scale=0.0,
        gaussian_blur=0.1,
        sigmas=(0.1, 1.0),
        vf_prob=0.5,
        hf_prob=0.5,
        rr_prob=0.5,
        normalize=NORMALIZE,
    )


def check_ssl(spec: EmbedSpec) -> None:
    """The SSL mode and the weights file agree, said before anything is loaded or trained."""
    if spec.ssl not in SSL_MODES:
        raise InputError(f"embed.ssl is {spec.ssl!r}; allowed: {', '.join(SSL_MODES)}.")
    if spec.weights is None and spec.ssl != "scratch":
        raise InputError(
            f"embed.ssl is {spec.ssl} but embed.weights is not set: {spec.ssl} starts from a weights file. "
            "Set embed.weights to one, or embed.ssl: scratch."
        )
    if spec.weights is not None and spec.ssl == "scratch":
        raise InputError(
            f"embed.weights is {spec.weights} but embed.ssl is scratch (random weights, the file unused): "
            "set embed.ssl to finetune (SimCLR from the file) or none (the file as it is)."
        )


def training_sample(filenames: list[str], n: int | None, seed: int) -> list[str]:
    """The images SimCLR trains on: all of them, or a seeded sample of `n`, in sorted order.

    Contrastive pretraining learns what nuclei look like; past some thousands of images more of
    the same adds time, not much else, while memory for the decoded images grows with them.
    """
    if n is None or len(filenames) <= n:
        return list(filenames)
    pick = np.random.default_rng(seed).choice(len(filenames), size=n, replace=False)
    return sorted(filenames[i] for i in pick)


def simclr_loader(images: list, spec: EmbedSpec) -> DataLoader:
    """Batches of two augmented views of the decoded `images`, shuffled by the seed."""
    return DataLoader(
        ImageList(images, simclr_views(spec.input_size)),
        batch_size=min(spec.batch_size, len(images)),
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(spec.seed),
    )


def fit_simclr(
    model: SimCLR,
    images: list,
    spec: EmbedSpec,
    log_dir: Path | None,
    logger: logging.Logger,
    trackers: Sequence[Logger] = (),
) -> L.Trainer:
    """SimCLR's epochs on images decoded once: the loop benchmarks/embed_limit.py holds against
    the network's own speed.

    The loop runs at the network's speed already (the augmentations take a thirtieth of it), so
    what makes it faster is the network's arithmetic: bfloat16 with channels-last weights, where
    `spec.precision` asks for it (twice as fast on a CPU with native bfloat16, one validation
    image's difference in balanced accuracy on the default run: docs/benchmarks.md). float32 is
    the default and computes what it always did. The model is back in the usual layout afterwards.
    """
    precision = training_precision(spec.precision, spec.accelerator, logger)
    model.lay_out_for(precision)
    if model.fast_layout:
        logger.info("SimCLR in bfloat16 mixed precision, channels-last (embed.precision: %s)", spec.precision)
    trainer = quiet_trainer(
        spec.epochs, spec.accelerator, log_dir, f"SimCLR on {len(images)} images", logger, trackers, precision
    )
    trainer.fit(model, simclr_loader(images, spec))
    model.lay_out_for("32-true")
    return trainer


def train_embeddings(
    image_dir: Path,
    filenames: list[str],
    spec: EmbedSpec,
    out_csv: Path,
    out_backbone: Path,
    threads: int = 1,
    log_dir: Path | None = None,
    trackers: Sequence[Logger] = (),
) -> pd.DataFrame:
    """Train SimCLR on the pool, write the Lightly embeddings CSV and the backbone weights.

    Embeddings are the backbone features reduced by PCA to `spec.dim` and L2-normalised, like
    Lightly Worker's compact `num_ftrs` embeddings: distances stay meaningful for diversity and
    the CSV stays small at 77,000 images.
    """
    check_accelerator(spec.accelerator)
    check_ssl(spec)
    torch.set_num_threads(max(1, threads))
    L.seed_everything(spec.seed, workers=True, verbose=False)
    filenames = sorted(filenames)
    model = SimCLR(spec.backbone, spec.lr, spec.temperature, spec.epochs)
    provenance: dict = {"ssl": spec.ssl, "ssl_epochs": 0 if spec.ssl == "none" else spec.epochs, "weights": None}
    if spec.ssl != "none":
        provenance["ssl_precision"] = training_precision(spec.precision, spec.accelerator)
    if spec.weights is not None:  # checked against the architecture before any training
        provenance.update(brought_weights(model.backbone, spec.backbone, Path(spec.weights)))
        log.info("the backbone starts from %s (sha256 %s)", spec.weights, provenance["weights_sha256"][:12])
    images: list | None = None
    sample = filenames
    if spec.ssl != "none":
        sample = training_sample(filenames, spec.train_images, spec.seed)
        if len(sample) < len(filenames):
            log.info(
                "SimCLR trains on a sample of %d of the %d images (embed.train_images); all are embedded",
                len(sample),
                len(filenames),
            )
        images = load_images(image_dir, sample, spec.input_size, spec.foci_channel, threads)
        trainer = fit_simclr(model, images, spec, log_dir, log, trackers)
    else:
        log.info("embed.ssl is none: no SimCLR, the pool is embedded with the weights as they are")
    if images is not None and len(sample) == len(filenames):  # all decoded already
        feats = features(model.backbone, images)
    else:
        del images
        feats = features_of_files(model.backbone, image_dir, filenames, spec.input_size, spec.foci_channel)
    dim = min(spec.dim, feats.shape[1], len(filenames))
    if dim < spec.dim:  # PCA gives at most as many components as features and images
        log.warning(
            "embed.dim is %d, but the embeddings have %d dimensions: PCA gives at most as many as "
            "the backbone's %d features and the pool's %d images. Set embed.dim to %d or less to "
            "silence this.",
            spec.dim,
            dim,
            feats.shape[1],
            len(filenames),
            dim,
        )
    reduced = PCA(n_components=dim, svd_solver="full", random_state=spec.seed).fit_transform(feats)
    reduced /= np.linalg.norm(reduced, axis=1, keepdims=True) + 1e-12
    saved = {
        "backbone": spec.backbone,
        "state_dict": model.backbone.state_dict(),
        "input_size": spec.input_size,
        "foci_channel": spec.foci_channel,
        "provenance": provenance,
    }
    write_or_explain(out_backbone, lambda path: torch.save(saved, path))
    df = embeddings_frame(filenames, reduced)
    write_embeddings(df, out_csv)
    if spec.ssl != "none":
        loss = trainer.callback_metrics.get("train_loss")
        log.info(
            "SimCLR on %d images, %d epochs: final loss %s",
            len(sample),
            spec.epochs,
            "unknown" if loss is None else f"{float(loss):.4f}",
        )
    return df
