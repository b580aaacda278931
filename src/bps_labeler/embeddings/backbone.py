"""The backbone network and the features it computes, shared by SimCLR and the classifier.

Nothing is ever downloaded: a torchvision ResNet with `weights=None` is trained on the pool
itself (offline, and fit to microscopy rather than ImageNet), or starts from a weights file the
user brings (`embed.weights`: torchvision's ImageNet file fetched on a connected machine, a
microscopy model, a backbone.pt of an earlier run), checked against the architecture first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torchvision.transforms import v2 as T

from bps_labeler.data.images import ImageList, chunks, load_images
from bps_labeler.errors import InputError
from bps_labeler.utils.files import sha256_file

NORMALIZE = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


#: torchvision networks and the attribute that holds each one's ImageNet classifier. The small
#: ones cost a quarter of a ResNet-18's time on a CPU, and lost accuracy (docs/benchmarks.md, "Figures").
BACKBONES = {
    "resnet18": "fc",
    "resnet34": "fc",
    "resnet50": "fc",
    "shufflenet_v2_x1_0": "fc",
    "mobilenet_v3_small": "classifier",
}


def make_backbone(name: str) -> tuple[nn.Module, int]:
    """A torchvision network without its classifier and without downloaded weights."""
    if name not in BACKBONES:
        raise ValueError(f"embed.backbone = {name!r}; allowed: {', '.join(BACKBONES)}")
    net = getattr(torchvision.models, name)(weights=None)
    # the classifier's first layer reads the features (a Linear, or the first of a Sequential's)
    n_features = next(m for m in getattr(net, BACKBONES[name]).modules() if isinstance(m, nn.Linear)).in_features
    setattr(net, BACKBONES[name], nn.Identity())
    return net, n_features


def _first(names: list[str], n: int) -> str:
    """The first `n` names, and how many more there are."""
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def brought_weights(net: nn.Module, name: str, path: Path) -> dict:
    """Load a weights file the user brought into `net` (a `name` network without its classifier);
    returns the provenance to record: the file, its sha256 and what it was.

    Two forms are read: a state_dict as torchvision saves it (its classifier is dropped),
    and a backbone.pt of this pipeline (its recorded architecture must be `name`). Every missing,
    unexpected or differently shaped tensor is a refusal naming the first few, before any
    training starts."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(
            f"embed.weights: {path} does not exist. Give the path of a weights file on this machine."
        ) from None
    except Exception as err:  # noqa: BLE001 - pickles, zips and tensors fail in many ways
        raise InputError(
            f"embed.weights: {path} is not a PyTorch weights file ({type(err).__name__}: {err})."
        ) from None
    kind = "torchvision state_dict"
    if isinstance(saved, dict) and "state_dict" in saved and "backbone" in saved:
        if saved["backbone"] != name:
            raise InputError(
                f"embed.weights: {path} is a {saved['backbone']} backbone of this pipeline, but embed.backbone is "
                f"{name}. Set embed.backbone: {saved['backbone']}, or bring {name} weights."
            )
        kind, saved = f"backbone.pt of this pipeline ({saved['backbone']})", saved["state_dict"]
    if not isinstance(saved, dict) or not all(isinstance(v, torch.Tensor) for v in saved.values()):
        raise InputError(f"embed.weights: {path} holds no state_dict (a mapping of names to tensors).")
    head = BACKBONES[name] + "."
    state = {k.removeprefix("module."): v for k, v in saved.items() if not k.removeprefix("module.").startswith(head)}
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k} {list(state[k].shape)} (a {name} has {list(own[k].shape)})"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        groups = (("missing ", missing, 3), (f"not in a {name}: ", unexpected, 3), ("other shapes: ", shapes, 2))
        said = [f"{what}{_first(names, n)}" for what, names, n in groups if names]
        raise InputError(
            f"embed.weights: {path} does not fit a {name} ({'; '.join(said)}). Bring weights of that "
            "architecture, or set embed.backbone to the file's."
        )
    net.load_state_dict(state)
    return {"weights": str(path), "weights_sha256": sha256_file(path), "weights_kind": kind}


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
    threads = torch.get_num_threads()  # the job's, set by its caller
    parts = []
    for part in chunks(filenames):
        parts.append(features(backbone, load_images(image_dir, part, input_size, foci_channel, threads)))
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
