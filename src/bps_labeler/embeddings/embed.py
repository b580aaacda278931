"""Self-supervised embeddings of the training pool (SimCLR from lightly's parts).

No pretrained weights are downloaded: a torchvision ResNet with `weights=None` is trained on the
pool itself, which is what makes the pipeline run offline and fit microscopy rather than ImageNet.
The embeddings are written as a Lightly embeddings CSV and the backbone is kept to start the
classifier from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
import torchvision
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from lightly.transforms import SimCLRTransform
from lightning.pytorch.loggers import CSVLogger
from sklearn.decomposition import PCA
from torch import nn
from torch.utils.data import DataLoader
from torchvision.transforms import v2 as T

from bps_labeler.data.images import ImageList, chunks, load_images
from bps_labeler.errors import InputError
from bps_labeler.utils.accelerator import check_accelerator
from bps_labeler.utils.epoch_progress import EpochProgress
from bps_labeler.utils.files import write_or_explain

log = logging.getLogger(__name__)

NORMALIZE = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
BACKBONES = ("resnet18", "resnet34", "resnet50")


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
    train_images: int | None = 10000
    seed: int = 0
    accelerator: str = "cpu"


def make_backbone(name: str) -> tuple[nn.Module, int]:
    """A torchvision ResNet without its classifier and without downloaded weights."""
    if name not in BACKBONES:
        raise ValueError(f"embed.backbone = {name!r}; allowed: {', '.join(BACKBONES)}")
    net = getattr(torchvision.models, name)(weights=None)
    n_features = net.fc.in_features
    net.fc = nn.Identity()
    return net, n_features


def read_backbone(path: Path) -> dict:
    """The saved backbone: `backbone` (name), `state_dict`, and how its input was made.

    The input recipe (`input_size`, `foci_channel`) travels with the weights and is the only
    place the classifier and the benchmarks take it from, so nothing can feed a backbone images
    made differently from those it was trained on.
    """
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if "input_size" not in saved or "foci_channel" not in saved:
        raise InputError(
            f"{path}: this backbone was saved before backbones recorded their input size and "
            "channels. Delete it and rerun the embed rule (snakemake rebuilds it)."
        )
    return saved


def load_backbone(path: Path) -> tuple[nn.Module, dict]:
    """The trained network and its `read_backbone` record."""
    saved = read_backbone(path)
    net, _ = make_backbone(saved["backbone"])
    net.load_state_dict(saved["state_dict"])
    return net, saved


def eval_transform() -> T.Compose:
    return T.Compose([T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Normalize(**NORMALIZE)])


class SimCLR(L.LightningModule):
    def __init__(self, backbone: str, lr: float, temperature: float, max_epochs: int) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.backbone, n = make_backbone(backbone)
        self.projection_head = SimCLRProjectionHead(n, n, 128)
        self.criterion = NTXentLoss(temperature=temperature)

    def training_step(self, batch: tuple[list[torch.Tensor], torch.Tensor], _: int) -> torch.Tensor:
        (x0, x1), _labels = batch
        z0 = self.projection_head(self.backbone(x0))
        z1 = self.projection_head(self.backbone(x1))
        loss = self.criterion(z0, z1)
        self.log("train_loss", loss, prog_bar=True, on_epoch=True, on_step=False)
        return loss

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


@torch.no_grad()
def features(backbone: nn.Module, images: list, batch_size: int = 256) -> np.ndarray:
    """Backbone features of images (eval mode, no augmentation)."""
    backbone.eval()
    loader = DataLoader(ImageList(images, eval_transform()), batch_size=batch_size, shuffle=False)
    return np.concatenate([backbone(x).numpy() for x, _ in loader]).astype(np.float32)


def features_of_files(
    backbone: nn.Module, image_dir: Path, filenames: list[str], input_size: int, foci_channel: bool
) -> np.ndarray:
    """Backbone features of image files, decoded a chunk at a time (images.CHUNK): a pool of
    any size costs the memory of one chunk, not of every image."""
    parts = [features(backbone, load_images(image_dir, part, input_size, foci_channel)) for part in chunks(filenames)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def training_sample(filenames: list[str], n: int | None, seed: int) -> list[str]:
    """The images SimCLR trains on: all of them, or a seeded sample of `n`, in sorted order.

    Contrastive pretraining learns what nuclei look like; past some thousands of images more of
    the same adds time, not much else, while memory for the decoded images grows with them.
    """
    if n is None or len(filenames) <= n:
        return list(filenames)
    pick = np.random.default_rng(seed).choice(len(filenames), size=n, replace=False)
    return sorted(filenames[i] for i in pick)


def train_embeddings(
    image_dir: Path,
    filenames: list[str],
    spec: EmbedSpec,
    out_csv: Path,
    out_backbone: Path,
    threads: int = 1,
    log_dir: Path | None = None,
) -> pd.DataFrame:
    """Train SimCLR on the pool, write the Lightly embeddings CSV and the backbone weights.

    Embeddings are the backbone features reduced by PCA to `spec.dim` and L2-normalised, like
    Lightly Worker's compact `num_ftrs` embeddings: distances stay meaningful for diversity and
    the CSV stays small at 77,000 images.
    """
    check_accelerator(spec.accelerator)
    torch.set_num_threads(max(1, threads))
    L.seed_everything(spec.seed, workers=True, verbose=False)
    filenames = sorted(filenames)
    sample = training_sample(filenames, spec.train_images, spec.seed)
    if len(sample) < len(filenames):
        log.info(
            "SimCLR trains on a sample of %d of the %d images (embed.train_images); all are embedded",
            len(sample),
            len(filenames),
        )
    images = load_images(image_dir, sample, spec.input_size, spec.foci_channel)
    loader = DataLoader(
        ImageList(images, simclr_views(spec.input_size)),
        batch_size=min(spec.batch_size, len(images)),
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(spec.seed),
    )
    model = SimCLR(spec.backbone, spec.lr, spec.temperature, spec.epochs)
    trainer = L.Trainer(
        max_epochs=spec.epochs,
        accelerator=spec.accelerator,
        devices=1,
        deterministic=True,
        logger=CSVLogger(log_dir, name="", version="") if log_dir else False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[EpochProgress(f"SimCLR on {len(sample)} images", log)],
    )
    trainer.fit(model, loader)
    if len(sample) == len(filenames):  # all decoded already
        feats = features(model.backbone, images)
    else:
        del images, loader
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
    }
    write_or_explain(out_backbone, lambda path: torch.save(saved, path))
    df = embeddings_frame(filenames, reduced)
    write_embeddings(df, out_csv)
    log.info(
        "SimCLR on %d images, %d epochs: final loss %s",
        len(filenames),
        spec.epochs,
        trainer.callback_metrics.get("train_loss"),
    )
    return df


def embeddings_frame(filenames: list[str], emb: np.ndarray) -> pd.DataFrame:
    """Lightly's embeddings CSV layout: filenames, embedding_0..N-1, labels."""
    cols = {f"embedding_{i}": emb[:, i] for i in range(emb.shape[1])}
    return pd.DataFrame({"filenames": filenames, **cols, "labels": 0})


def write_embeddings(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.6f")


def read_embeddings(path: Path) -> tuple[list[str], np.ndarray]:
    """Read a Lightly embeddings CSV; refuse NaNs, which would poison every distance."""
    df = pd.read_csv(path)
    if "filenames" not in df.columns:
        raise ValueError(f"{path}: not a Lightly embeddings CSV (no 'filenames' column).")
    cols = [c for c in df.columns if c.startswith("embedding_")]
    emb = df[cols].to_numpy(dtype=np.float32)
    bad = np.isnan(emb).any(axis=1)
    if bad.any():
        names = df["filenames"][bad].head(5).tolist()
        raise ValueError(f"{path}: embeddings contain NaN for {int(bad.sum())} image(s), e.g. {names}.")
    return df["filenames"].tolist(), emb
