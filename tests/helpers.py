"""Small shared pieces of the tests: batches of a task, fitting one batch, running train.py."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import torch
from torch import nn

from attnlab.data import PAD, Batch, generate
from attnlab.models import Seq2SeqModule


def make_batch(task: str = "reverse", n: int = 8, lengths: tuple[int, int] = (3, 6), seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(*generate(task, torch.randint(lengths[0], lengths[1] + 1, (n,), generator=g), g))


def fit_one_batch(net: nn.Module, batch: Batch, steps: int, lr: float) -> tuple[torch.Tensor, float]:
    """Train on one batch with Adam, then decode it greedily -> (predictions, last loss)."""
    module = Seq2SeqModule(net, optimizer=partial(torch.optim.Adam, lr=lr))
    optimizer = module.configure_optimizers()
    for _ in range(steps):
        loss = module.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    module.eval()
    return module.predict(batch), loss.item()


def token_accuracy(preds: torch.Tensor, batch: Batch) -> float:
    scored = batch.tgt != PAD
    return (preds[scored] == batch.tgt[scored]).float().mean().item()


ROOT = Path(__file__).resolve().parents[1]

# A run of a few seconds: 12 steps on a tiny attention RNN, validated twice.
TINY = [
    "trainer.max_steps=12",
    "trainer.val_check_interval=6",
    "data.train_size=256",
    "data.val_size=64",
    "data.test_size=32",
    "data.max_len=6",
    "data.test_lengths=[4,6,9]",
    "model.net.hidden_size=32",
    "model.net.embed_dim=16",
    "~callbacks.progress_bar",
]


def train_py(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run train.py with these arguments in a subprocess (one thread per process, W&B offline)."""
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(ROOT / "train.py"), *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd, env=env
    )
