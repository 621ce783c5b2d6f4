"""LightningModules for the digit canvases: captioning with attention and classification with a
CNN + self-attention. A batch is a `Batch` whose source is the image (``src`` (B, 1, H, W)) and
whose ``src_len`` is the number of digits k on each canvas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.text import BLEUScore

from attnlab.data import EOS, PAD, Batch, decoder_inputs
from attnlab.data.digits import VOCAB
from attnlab.data.tasks import decode
from attnlab.metrics import ExactMatchByLength
from attnlab.models.classifier import ClassifierModule
from attnlab.models.seq2seq import Seq2SeqModule
from attnlab.nn.captioner import doubly_stochastic_penalty
from attnlab.nn.decoding import IncrementalDecoder
from attnlab.nn.vision import CNNClassifier


class CaptionModule(Seq2SeqModule):
    """Captions with teacher forcing, plus Xu et al.'s doubly stochastic attention regulariser
    weighted by ``attention_reg`` (0 turns it off; it does not apply to the fixed context).

    Metrics: exact caption match, token accuracy (EOS included), per-digit accuracy (the digit
    words alone), BLEU-2 over the captions (torchmetrics; not BLEU-4, which is 0 whenever no
    caption has four words), and exact match per number of digits, ``test/exact_match@k=<k>``.
    """

    length_key = "k"

    def __init__(
        self,
        net: IncrementalDecoder,  # Captioner or TransformerCaptioner
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        beam_size: int = 1,
        attention_reg: float = 1.0,
        **transfer: Any,  # init_from, freeze, body_lr: see TrainableModule
    ) -> None:
        super().__init__(net, optimizer, scheduler, beam_size, **transfer)
        self.attention_reg = attention_reg
        vocab_size = net.out.out_features
        digits = MulticlassAccuracy(vocab_size, average="micro", ignore_index=PAD)
        extra = MetricCollection({"digit_accuracy": digits})
        self.val_extra, self.test_extra = extra.clone(prefix="val/"), extra.clone(prefix="test/")
        self.val_bleu, self.test_bleu = BLEUScore(n_gram=2), BLEUScore(n_gram=2)

    def losses(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        """-> the negative log-likelihood per word, and the regulariser per word (None when off).

        Xu et al. minimize sum_t -log p(y_t) + lambda * sum_i (1 - sum_t a_ti)^2 per caption.
        Divided by the caption's length in words it reads per word, like every attnlab loss,
        and lambda keeps the paper's weight against the likelihood."""
        logits, alpha = self.net(batch.src, batch.src_len, decoder_inputs(batch.tgt), return_attention=True)
        nll = F.cross_entropy(logits.transpose(1, 2), batch.tgt, ignore_index=PAD)
        if alpha is None or self.attention_reg == 0:
            return nll, None
        words = batch.tgt != PAD
        return nll, doubly_stochastic_penalty(alpha, words) * len(words) / words.sum()

    def loss(self, batch: Batch) -> Tensor:
        """What training minimizes; val/loss and test/loss are the likelihood alone, comparable
        between runs with and without the regulariser."""
        nll, penalty = self.losses(batch)
        return nll if penalty is None or not self.training else nll + self.attention_reg * penalty

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        nll, penalty = self.losses(batch)
        loss = nll if penalty is None else nll + self.attention_reg * penalty
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch.src))
        if penalty is not None:
            self.log("train/nll", nll, batch_size=len(batch.src))
            self.log("train/attention_penalty", penalty, batch_size=len(batch.src))
        return loss

    def update_metrics(self, split: str, preds: Tensor, batch: Batch) -> None:
        super().update_metrics(split, preds, batch)
        extra, bleu = (self.val_extra, self.val_bleu) if split == "val" else (self.test_extra, self.test_bleu)
        extra.update(preds, batch.tgt.masked_fill(batch.tgt == EOS, PAD))  # the digit words only
        captions = [" ".join(decode(p, VOCAB)) for p in preds]
        references = [[" ".join(decode(t, VOCAB))] for t in batch.tgt]
        bleu.update(captions, references)
        self.log_dict(extra)
        self.log(f"{split}/bleu2", bleu)


class ImageClassifierModule(ClassifierModule):
    """One class per image (the canvases' sum or count of digits). Logs accuracy, and at test
    also accuracy per number of digits, ``test/accuracy@k=<k>``."""

    def __init__(
        self,
        net: CNNClassifier,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
    ) -> None:
        super().__init__(net, optimizer, scheduler)
        self.test_by_count = ExactMatchByLength(ignore_index=-1)

    def logits(self, batch: Batch) -> Tensor:
        return self.net(batch.src)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        preds = self.evaluate("test", batch)
        self.test_by_count.update(preds[:, None], batch.tgt[:, None], batch.src_len)

    def on_test_epoch_end(self) -> None:
        for k, value in self.test_by_count.compute().items():
            self.log(f"test/accuracy@k={k}", value)
        self.test_by_count.reset()
