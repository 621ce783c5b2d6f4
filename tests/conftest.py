"""Shared test settings: W&B offline and quiet, few threads, no network."""

from __future__ import annotations

import os

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HYDRA_FULL_ERROR", "0")

import torch  # noqa: E402

# Tiny test models are dominated by per-op overhead: one thread is faster than two, and it
# cannot oversubscribe the cores when a training subprocess runs beside the tests.
torch.set_num_threads(1)
