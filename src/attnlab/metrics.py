"""Metrics that torchmetrics does not ship: exact match broken down by input length."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from attnlab.data.tasks import PAD

MAX_LENGTH = 4096  # longest source length counted; two float vectors of this size per metric


class ExactMatchByLength(Metric):
    """Fraction of sequences predicted exactly, per source length (Bahdanau et al., Figure 2).

    States are per-length sums, so DDP reduces them with a plain sum.
    """

    full_state_update = False

    def __init__(self, max_length: int = MAX_LENGTH, ignore_index: int = PAD) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.add_state("correct", torch.zeros(max_length + 1), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros(max_length + 1), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, lengths: Tensor) -> None:
        """preds, target (B, T) token ids; lengths (B,) the source length of each example."""
        if int(lengths.max()) >= len(self.total):
            raise ValueError(f"source length {int(lengths.max())} exceeds {len(self.total) - 1}")
        valid = target != self.ignore_index
        exact = ((preds == target) | ~valid).all(dim=1).float()
        self.correct.index_add_(0, lengths, exact)
        self.total.index_add_(0, lengths, torch.ones_like(exact))

    def compute(self) -> dict[int, Tensor]:
        seen = torch.nonzero(self.total).flatten().tolist()
        return {n: self.correct[n] / self.total[n] for n in seen}
