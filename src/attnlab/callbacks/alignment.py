"""Draw where the model attends, for a few fixed validation examples, after each validation.

Sequence models: the alignment matrix (outputs x source tokens), and for a Transformer every
layer's heads. Language models and text classifiers: every layer's causal heads over a text.
Captioners: one panel per generated word with its attention upsampled over the
image. The CNN with self-attention: where a few query cells of the grid look.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from matplotlib.figure import Figure
from torch import Tensor

from attnlab.data import BOS, EOS, Batch, decoder_inputs
from attnlab.data.tasks import decode
from attnlab.models import CaptionModule, ImageClassifierModule, LanguageModelModule, TextClassifierModule
from attnlab.plots import alignment_figure, head_grid_figure, image_attention_figure, save


class AlignmentPlot(L.Callback):
    """Saves ``<dirpath>/<name>_step<N>.png`` for each figure of the model and logs it to W&B
    (or TensorBoard) as ``val/<name>``.

    The examples are fixed for the whole run (the data module's ``plot_examples``). Only rank 0
    draws; models without attention are skipped. The weights are computed on these examples
    alone, so training steps stay on the fast path.
    """

    def __init__(self, dirpath: str, num_examples: int = 3) -> None:
        self.dirpath = Path(dirpath)
        self.num_examples = num_examples

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        drawable = getattr(pl_module.net, "has_attention", False)
        if trainer.sanity_checking or not trainer.is_global_zero or not drawable:
            return
        batch = trainer.datamodule.plot_examples(self.num_examples)
        batch = Batch(*(t.to(pl_module.device) for t in batch))
        if isinstance(pl_module, CaptionModule):
            figures = caption_figures(pl_module.net, batch, trainer.datamodule.vocab)
        elif isinstance(pl_module, ImageClassifierModule):
            figures = query_figures(pl_module.net, batch)
        elif isinstance(pl_module, (LanguageModelModule, TextClassifierModule)):
            whole_line = isinstance(pl_module, LanguageModelModule)
            figures = text_figures(pl_module.net, batch, trainer.datamodule.vocab, whole_line)
        else:
            figures = sequence_figures(pl_module.net, batch, trainer.datamodule.vocab)
        for name, figure in figures.items():
            self._publish(trainer, name, figure)

    def _publish(self, trainer: L.Trainer, name: str, figure: Figure) -> None:
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


def sequence_figures(net, batch: Batch, vocab: tuple[str, ...]) -> dict[str, Figure]:
    """Each example's alignment matrix; for a Transformer also every layer's heads for the
    longest example."""
    tokens, alignment = net.greedy(batch.src, batch.src_len, batch.tgt.size(1), BOS)
    examples = []
    for i in range(len(batch.src)):
        source = decode(batch.src[i], vocab)
        output = [vocab[t] for t in tokens[i, : int(batch.tgt_len[i])].tolist()]
        weights = alignment[i, : len(output), : len(source)].float().cpu().numpy()
        examples.append((source, output, weights))
    figures = {"alignment": alignment_figure(examples)}
    if hasattr(net, "attention_maps"):
        figures["attention_heads"] = _head_grid(net, batch, len(batch.src) - 1, vocab)
    return figures


def _first_example(maps: dict[str, list[Tensor]]) -> dict[str, list]:
    """Per-layer weights (1, h, rows, cols) -> (h, rows, cols) arrays for ``head_grid_figure``."""
    return {kind: [w[0].float().cpu().numpy() for w in layers] for kind, layers in maps.items()}


def _head_grid(net, batch: Batch, i: int, vocab: tuple[str, ...]) -> Figure:
    n, m = int(batch.src_len[i]), int(batch.tgt_len[i])
    src, tgt = batch.src[i : i + 1, :n], batch.tgt[i : i + 1, :m]
    tgt_in = decoder_inputs(tgt)
    maps = _first_example(net.attention_maps(src, batch.src_len[i : i + 1], tgt_in))
    source = [vocab[t] for t in src[0].tolist()]
    target = [vocab[t] for t in tgt_in[0].tolist()]
    labels = {"encoder self": (source, source), "decoder self": (target, target), "cross": (target, source)}
    return head_grid_figure(maps, labels)


def text_figures(net, batch: Batch, vocab: tuple[str, ...], whole_line: bool) -> dict[str, Figure]:
    """Every layer's causal heads over the longest example: its whole line (``tgt`` without
    the last token) for a language model, its text (``src``) for a classifier."""
    rows, lengths = (batch.tgt, batch.tgt_len - 1) if whole_line else (batch.src, batch.src_len)
    i = int(lengths.argmax())
    tokens = rows[i : i + 1, : int(lengths[i])]
    maps = _first_example(net.self_attention_maps(tokens))
    labels = [vocab[t] for t in tokens[0].tolist()]
    return {"attention_heads": head_grid_figure(maps, {kind: (labels, labels) for kind in maps})}


def _upsample(maps: Tensor, grid: tuple[int, int], size: tuple[int, int]) -> Tensor:
    """(B, M, L) weights over the grid's cells -> (B, M, H, W) over the image's pixels."""
    B, M, _ = maps.shape
    cells = maps.reshape(B * M, 1, *grid).float()
    return F.interpolate(cells, size=size, mode="bilinear").reshape(B, M, *size)


def caption_figures(net, batch: Batch, vocab: tuple[str, ...]) -> dict[str, Figure]:
    """For each canvas: the image, then one panel per generated word (up to EOS) with that
    step's attention over the grid upsampled onto the image, the word as its title."""
    tokens, alpha = net.greedy(batch.src, batch.src_len, batch.tgt.size(1), BOS)
    size = tuple(batch.src.shape[-2:])
    maps = _upsample(alpha, net.grid_size(*size), size).cpu().numpy()
    rows = []
    for i in range(len(batch.src)):
        panels = []
        for t, token in enumerate(tokens[i].tolist()):
            panels.append((vocab[token], maps[i, t]))
            if token == EOS:
                break
        rows.append((batch.src[i, 0].cpu().numpy(), panels))
    return {"caption_attention": image_attention_figure(rows)}


@torch.no_grad()
def query_figures(net, batch: Batch, queries: int = 3) -> dict[str, Figure]:
    """For each canvas, where a few query cells look: the brightest cells of the image at the
    grid's resolution (they lie on digits), one panel each."""
    size = tuple(batch.src.shape[-2:])
    grid = net.encoder.grid_size(*size)
    weights = net.attention_weights(batch.src)  # (B, L, L)
    ink = F.adaptive_avg_pool2d(batch.src, grid).flatten(1)  # (B, L)
    picked = ink.topk(queries, dim=1).indices  # (B, Q)
    rows_of = weights.gather(1, picked[..., None].expand(-1, -1, weights.size(-1)))  # (B, Q, L)
    maps = _upsample(rows_of, grid, size).cpu().numpy()
    rows = []
    for i in range(len(batch.src)):
        cells = [divmod(int(q), grid[1]) for q in picked[i]]
        panels = [(f"query cell ({r}, {c})", maps[i, j]) for j, (r, c) in enumerate(cells)]
        rows.append((batch.src[i, 0].cpu().numpy(), panels))
    return {"self_attention": image_attention_figure(rows)}
