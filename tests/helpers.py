"""Small shared pieces of the tests: batches of a task, and fitting one batch."""

from __future__ import annotations

from functools import partial

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
