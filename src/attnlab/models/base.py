"""What every attnlab LightningModule shares: the network, the optimizer and schedule from the
config, and the fine-tuning knobs (which parts are frozen, the pretrained body's own rate)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from attnlab.data import Batch

FREEZE = ("none", "embeddings", "encoder")


def network_parts(net: nn.Module) -> dict[str, list[nn.Parameter]]:
    """The parameters of a net that declares ``EMBEDDINGS`` and ``HEAD`` (module names), split
    into embeddings, encoder (every other part of the body) and head."""
    parts: dict[str, list[nn.Parameter]] = {"embeddings": [], "encoder": [], "head": []}
    for name, parameter in net.named_parameters():
        top = name.split(".", 1)[0]
        part = "head" if top == net.HEAD else "embeddings" if top in net.EMBEDDINGS else "encoder"
        parts[part].append(parameter)
    return parts


class TrainableModule(L.LightningModule):
    """Holds ``net`` and the optimizer and scheduler as partials from Hydra. The partials are
    kept off the checkpoint, so that it loads with ``torch.load(weights_only=True)``; the full
    config lives in ``.hydra/config.yaml``. The checkpoint also records the data's vocabulary,
    which a fine-tune checks against its own (``model.init_from``).

    Fine-tuning a net with a body and a head (``network_parts``): ``freeze="embeddings"`` fixes
    the token and position embeddings, ``"encoder"`` the whole body, so that only the head
    learns; ``body_lr`` gives the body its own learning rate (the head keeps the optimizer's).
    ``init_from`` names the pretrained weights; train.py loads them once it has the data.

    ``monitor`` is the validation metric that picks the best checkpoint (and that an Optuna
    search maximizes) unless the config names another in ``optimized_metric``.
    """

    monitor = "val/exact_match"

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        init_from: str | None = None,
        freeze: str = "none",
        body_lr: float | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.init_from, self.freeze, self.body_lr = init_from, freeze, body_lr
        if freeze not in FREEZE:
            raise ValueError(f"unknown freeze {freeze!r}; choose one of {', '.join(FREEZE)}")
        if freeze != "none":
            parts = network_parts(net)
            frozen = parts["embeddings"] + (parts["encoder"] if freeze == "encoder" else [])
            for parameter in frozen:
                parameter.requires_grad_(False)

    def loss(self, batch: Batch) -> Tensor:
        raise NotImplementedError

    def evaluate(self, split: str, batch: Batch) -> Any:
        """Log ``split``'s loss and update its metrics for one batch."""
        raise NotImplementedError

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss = self.loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch.tgt))
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self.evaluate("val", batch)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self.evaluate("test", batch)

    def parameter_groups(self) -> list[dict[str, Any]]:
        """What the optimizer updates: the trainable parameters, the body at ``body_lr``."""
        if self.body_lr is None:
            return [{"params": [p for p in self.parameters() if p.requires_grad]}]
        parts = network_parts(self.net)
        body = [p for p in parts["embeddings"] + parts["encoder"] if p.requires_grad]
        groups = [{"params": parts["head"]}, {"params": body, "lr": self.body_lr}]
        return [group for group in groups if group["params"]]

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameter_groups())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        vocab = getattr(self.trainer.datamodule, "vocab", None) if self._trainer is not None else None
        if vocab is not None:
            checkpoint["vocab"] = list(vocab)
