"""Whether the device a config asks for is there, checked where the job runs."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

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


#: CPU flags (Linux /proc/cpuinfo) of native bfloat16 arithmetic: AVX-512 BF16 (AMD Zen 4,
#: Intel Cooper Lake and later) and AMX (Sapphire Rapids and later).
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU computes in bfloat16 natively; elsewhere PyTorch emulates it, slower than float32."""
    try:
        flags = next((line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in BF16_FLAGS)


def training_precision(setting: str | int, accelerator: str, log: logging.Logger | None = None) -> str:
    """Lightning's precision for a training loop: "32" and "bf16-mixed" as they are, `auto`
    bfloat16 mixed precision where the device computes it natively (about twice the speed of
    float32 for SimCLR's ResNet on such a CPU, docs/results/embed_limit_bf16.md), float32
    elsewhere."""
    setting = str(setting)  # 32 in YAML is a number
    if setting == "32":
        return "32-true"
    if setting == "bf16-mixed":
        if accelerator != "gpu" and not cpu_has_bf16() and log is not None:
            log.warning("embed.precision is bf16-mixed, but this CPU has no native bfloat16: expect it slower than 32")
        return "bf16-mixed"
    native = torch.cuda.is_bf16_supported() if accelerator == "gpu" else cpu_has_bf16()
    return "bf16-mixed" if native else "32-true"
