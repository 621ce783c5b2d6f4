"""LightningModules that give one class per example: images, or text for a fine-tuned body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from attnlab.data import Batch
from attnlab.models.base import TrainableModule


class ClassifierModule(TrainableModule):
    """Cross-entropy on ``logits(batch)`` (B, C) against ``batch.tgt`` (B,); logs accuracy."""

    monitor = "val/accuracy"

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        **transfer: Any,  # init_from, freeze, body_lr: see TrainableModule
    ) -> None:
        super().__init__(net, optimizer, scheduler, **transfer)
        metrics = MetricCollection({"accuracy": MulticlassAccuracy(net.head.out_features, average="micro")})
        self.val_metrics, self.test_metrics = metrics.clone(prefix="val/"), metrics.clone(prefix="test/")

    def logits(self, batch: Batch) -> Tensor:
        raise NotImplementedError

    def loss(self, batch: Batch) -> Tensor:
        return F.cross_entropy(self.logits(batch), batch.tgt)

    def evaluate(self, split: str, batch: Batch) -> Tensor:
        """Log the loss and update the accuracy -> the predicted classes (B,)."""
        logits = self.logits(batch)
        loss = F.cross_entropy(logits, batch.tgt)
        self.log(f"{split}/loss", loss, prog_bar=split == "val", sync_dist=True, batch_size=len(batch.src))
        metrics = self.val_metrics if split == "val" else self.test_metrics
        metrics.update(logits.argmax(-1), batch.tgt)
        self.log_dict(metrics, prog_bar=split == "val")
        return logits.argmax(-1)


class TextClassifierModule(ClassifierModule):
    """A class per text (``batch.src``) for `attnlab.nn.TransformerClassifier`. The text sits
    where a pretraining line starts, so a pretrained body reads what it was trained on."""

    def logits(self, batch: Batch) -> Tensor:
        return self.net(batch.src, batch.src_len)
