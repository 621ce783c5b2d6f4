"""Pretraining: next-token prediction on unlabeled text (attnlab.nn.TransformerLM)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.text import Perplexity

from attnlab.data import PAD, Batch
from attnlab.models.base import TrainableModule
from attnlab.nn.language_model import TransformerLM


class LanguageModelModule(TrainableModule):
    """Reads a line of text x_1 ... x_{n-1} and predicts x_2 ... x_n: the loss is
    -1/N sum_t log p(x_t | x_<t), padding left out. A batch's ``tgt`` holds the lines
    (``data.target=text``: ``x <s> y </s>``, laid out as the decoder-only Transformer reads a
    source and its target, so that fine-tuning finds what pretraining saw). Logs next-token
    accuracy and perplexity, exp of that loss, both from torchmetrics."""

    monitor = "val/token_accuracy"

    def __init__(
        self,
        net: TransformerLM,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
    ) -> None:
        super().__init__(net, optimizer, scheduler)
        vocab_size = net.out.out_features
        metrics = MetricCollection(
            {
                "token_accuracy": MulticlassAccuracy(vocab_size, average="micro", ignore_index=PAD),
                "perplexity": Perplexity(ignore_index=PAD),
            }
        )
        self.val_metrics, self.test_metrics = metrics.clone(prefix="val/"), metrics.clone(prefix="test/")

    def logits(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """-> logits (B, L-1, V) and the tokens they predict (B, L-1)."""
        return self.net.language_model(batch.tgt[:, :-1]), batch.tgt[:, 1:]

    def loss(self, batch: Batch) -> Tensor:
        logits, targets = self.logits(batch)
        return F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=PAD)

    def evaluate(self, split: str, batch: Batch) -> None:
        logits, targets = self.logits(batch)
        loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=PAD)
        self.log(f"{split}/loss", loss, prog_bar=split == "val", sync_dist=True, batch_size=len(batch.tgt))
        metrics = self.val_metrics if split == "val" else self.test_metrics
        metrics["token_accuracy"].update(logits.transpose(1, 2), targets)
        metrics["perplexity"].update(logits, targets)
        self.log_dict(metrics, prog_bar=split == "val")
