"""What every attnlab LightningModule shares: the optimizer and schedule come from the config."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch


class TrainableModule(L.LightningModule):
    """Holds the optimizer and scheduler as partials from Hydra. They are kept off the checkpoint,
    so that it loads with ``torch.load(weights_only=True)``; the full config lives in
    ``.hydra/config.yaml``.

    ``monitor`` is the validation metric that picks the best checkpoint (and that an Optuna
    search maximizes) unless the config names another in ``optimized_metric``.
    """

    monitor = "val/exact_match"

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
    ) -> None:
        super().__init__()
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
