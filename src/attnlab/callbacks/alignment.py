"""Draw where the model attends, for a few fixed validation examples, after each validation."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

from attnlab.data import Batch
from attnlab.plots import save


class AlignmentPlot(L.Callback):
    """Saves ``<dirpath>/<name>_step<N>.png`` for every figure of the module's
    ``attention_figures`` and logs it to W&B (or TensorBoard) as ``val/<name>``: alignment
    matrices for sequence models, every head of every layer for Transformers, per-word maps over
    the image for the captioner, per-query maps for the CNN with self-attention.

    The examples are fixed for the whole run (the data module's ``plot_examples``). Only rank 0
    draws; models without attention are skipped. The plots are computed on these examples
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
        for name, figure in pl_module.attention_figures(batch, trainer.datamodule.vocab).items():
            self._publish(trainer, name, figure)

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
