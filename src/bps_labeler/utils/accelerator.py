"""Whether the device a config asks for is there, checked where the job runs."""

from __future__ import annotations

import socket

import torch

from bps_labeler.errors import InputError


def check_accelerator(accelerator: str) -> None:
    """Refuse `accelerator: gpu` on a machine without a GPU that PyTorch can use.

    Checked in the job, not when Snakemake starts: on a cluster the login node has no GPU while
    the GPU node the job lands on does.
    """
    if accelerator == "gpu" and not torch.cuda.is_available():
        raise InputError(
            f"accelerator is 'gpu', but {socket.gethostname()} has no GPU that PyTorch can use "
            "(torch.cuda.is_available() is False). Set accelerator: cpu in the config, or run this "
            "job on a GPU node (profiles/slurm: the GPU partition of embed, train and predict)."
        )


def torch_device(accelerator: str) -> str:
    """The device a network runs on for `accelerator` (checked first: one line if there is none)."""
    check_accelerator(accelerator)
    return "cuda" if accelerator == "gpu" else "cpu"
