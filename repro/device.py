"""Where this process computes and which rank it is: one answer for modeling, training and generation.

Under `accelerate launch` / torchrun the launcher sets RANK, LOCAL_RANK and WORLD_SIZE; a plain
process is rank 0 of 1. A process on a GPU machine uses `cuda:<LOCAL_RANK>`, else the CPU.
"""
from __future__ import annotations

import os


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def on_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def kind() -> str:
    return "cuda" if on_gpu() else "cpu"


def device():
    """The torch device this process's model lives on."""
    import torch

    return torch.device(f"cuda:{local_rank()}") if on_gpu() else torch.device("cpu")
