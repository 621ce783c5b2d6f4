"""LightningModule for sequence-to-sequence tasks: teacher forcing in training, greedy decoding
(or beam search) for validation and test, padding masked in the loss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassExactMatch

from attnlab.data import BOS, EOS, PAD, Batch, decoder_inputs
from attnlab.metrics import ExactMatchByLength
from attnlab.models.base import TrainableModule
from attnlab.nn.decoding import IncrementalDecoder


class Seq2SeqModule(TrainableModule):
    """Trains any attnlab.nn.IncrementalDecoder: ``forward(src, src_len, tgt_in) -> logits``
    with teacher forcing; greedy decoding or beam search (``beam_size`` > 1) to evaluate.

    Test exact match is also broken down by ``batch.src_len``, logged as
    ``test/exact_match@<length_key>=<n>``.
    """

    length_key = "len"

    def __init__(
        self,
        net: IncrementalDecoder,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        beam_size: int = 1,
        **transfer: Any,  # init_from, freeze, body_lr: see TrainableModule
    ) -> None:
        super().__init__(net, optimizer, scheduler, **transfer)
        self.beam_size = beam_size  # 1: greedy decoding
        vocab_size = net.out.out_features
        metrics = MetricCollection(
            {
                "exact_match": MulticlassExactMatch(vocab_size, ignore_index=PAD),
                "token_accuracy": MulticlassAccuracy(vocab_size, average="micro", ignore_index=PAD),
            }
        )
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.test_by_length = ExactMatchByLength()

    def loss(self, batch: Batch) -> Tensor:
        logits = self.net(batch.src, batch.src_len, decoder_inputs(batch.tgt))  # (B, T, V)
        return F.cross_entropy(logits.transpose(1, 2), batch.tgt, ignore_index=PAD)

    def predict(self, batch: Batch) -> Tensor:
        steps = batch.tgt.size(1)
        if self.beam_size > 1:
            return self.net.beam_search(batch.src, batch.src_len, steps, BOS, EOS, self.beam_size)
        tokens, _ = self.net.greedy(batch.src, batch.src_len, steps, BOS)
        return tokens

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self.log("val/loss", self.loss(batch), prog_bar=True, sync_dist=True, batch_size=len(batch.src))
        self.update_metrics("val", self.predict(batch), batch)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self.log("test/loss", self.loss(batch), sync_dist=True, batch_size=len(batch.src))
        preds = self.predict(batch)
        self.update_metrics("test", preds, batch)
        self.test_by_length.update(preds, batch.tgt, batch.src_len)

    def update_metrics(self, split: str, preds: Tensor, batch: Batch) -> None:
        metrics = self.val_metrics if split == "val" else self.test_metrics
        metrics.update(preds, batch.tgt)
        self.log_dict(metrics, prog_bar=split == "val")

    def on_test_epoch_end(self) -> None:
        for length, value in self.test_by_length.compute().items():
            self.log(f"test/exact_match@{self.length_key}={length}", value)
        self.test_by_length.reset()
