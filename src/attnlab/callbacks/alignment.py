"""Draw the alignment matrix of a few fixed validation examples after each validation."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

from attnlab.data import BOS, Batch, decoder_inputs
from attnlab.data.tasks import decode
from attnlab.plots import alignment_figure, head_grid_figure, save


class AlignmentPlot(L.Callback):
    """Saves ``<dirpath>/alignment_step<N>.png`` and logs it to W&B (or TensorBoard); for a
    Transformer also ``attention_heads_step<N>.png``, every layer's heads for one example.

    The examples are fixed for the whole run: validation examples spread over the length range.
    Only rank 0 draws; models without attention are skipped.
    """

    def __init__(self, dirpath: str, num_examples: int = 3) -> None:
        self.dirpath = Path(dirpath)
        self.num_examples = num_examples

    def _examples(self, trainer: L.Trainer) -> Batch:
        dataset = trainer.datamodule.datasets["val"]
        order = torch.argsort(dataset.examples.src_len, stable=True)
        picks = torch.linspace(0, len(order) - 1, self.num_examples).round().long()
        return dataset.__getitems__(order[picks].tolist())

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        net = pl_module.net
        drawable = getattr(net, "has_attention", False)
        if trainer.sanity_checking or not trainer.is_global_zero or not drawable:
            return
        batch = self._examples(trainer)
        batch = Batch(*(t.to(pl_module.device) for t in batch))
        tokens, alignment = net.greedy(batch.src, batch.src_len, batch.tgt.size(1), BOS)
        vocab = trainer.datamodule.vocab
        examples = []
        for i in range(len(batch.src)):
            source = decode(batch.src[i], vocab)
            output = [vocab[t] for t in tokens[i, : int(batch.tgt_len[i])].tolist()]
            weights = alignment[i, : len(output), : len(source)].float().cpu().numpy()
            examples.append((source, output, weights))
        self._publish(trainer, "alignment", alignment_figure(examples))
        if hasattr(net, "attention_maps"):  # Transformers: every layer and head, for one example
            last = len(batch.src) - 1  # the longest of the plotted examples
            self._publish(trainer, "attention_heads", self._head_grid(net, batch, last, vocab))

    @staticmethod
    def _head_grid(net, batch: Batch, i: int, vocab: tuple[str, ...]):
        n, m = int(batch.src_len[i]), int(batch.tgt_len[i])
        src, tgt = batch.src[i : i + 1, :n], batch.tgt[i : i + 1, :m]
        tgt_in = decoder_inputs(tgt)
        maps = net.attention_maps(src, batch.src_len[i : i + 1], tgt_in)
        maps = {kind: [w[0].float().cpu().numpy() for w in layers] for kind, layers in maps.items()}
        source = [vocab[t] for t in src[0].tolist()]
        target = [vocab[t] for t in tgt_in[0].tolist()]
        labels = {
            "encoder self": (source, source),
            "decoder self": (target, target),
            "cross": (target, source),
        }
        return head_grid_figure(maps, labels)

    def _publish(self, trainer: L.Trainer, name: str, figure) -> None:
        """Save as <dirpath>/<name>_step<N>.png and log to W&B (or TensorBoard)."""
        self.dirpath.mkdir(parents=True, exist_ok=True)
        path = self.dirpath / f"{name}_step{trainer.global_step:06d}.png"
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_figure(f"val/{name}", figure, trainer.global_step, close=False)
        save(figure, path)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(f"val/{name}", [str(path)], step=trainer.global_step)
