"""A training loss that turns NaN or infinite stops the run, or skips the step; never silently."""

from __future__ import annotations

import math

import lightning as L
from torch import Tensor


class FiniteLoss(L.Callback):
    """Checks every training loss before the backward pass (one host sync per step).

    By default the first non-finite loss stops the run with the step and the last finite loss;
    the weights are still those of the last good step, and `OnExceptionCheckpoint` saves them.
    With ``skip=True`` (``trainer.skip_nonfinite=true``) the step's gradients are dropped
    instead, so the optimizer leaves the weights as they were, and the skipped steps are counted
    in ``train/skipped_nonfinite``.
    """

    def __init__(self, skip: bool = False) -> None:
        self.skip = skip
        self.skipped = 0
        self.last_finite: tuple[int, float] | None = None
        self._drop_gradients = False

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: Tensor) -> None:
        value = float(loss.detach())
        if math.isfinite(value):
            self.last_finite = (trainer.global_step, value)
            return
        if not self.skip:
            last = "no finite loss before it"
            if self.last_finite is not None:
                last = f"the last finite loss was {self.last_finite[1]:.4g} at step {self.last_finite[0]}"
            raise FloatingPointError(
                f"training loss is {value} at step {trainer.global_step}; {last}. Lower "
                "model.optimizer.lr, or set trainer.skip_nonfinite=true to skip such steps"
            )
        self.skipped += 1
        self._drop_gradients = True

    def on_after_backward(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._drop_gradients:
            for parameter in pl_module.parameters():
                parameter.grad = None  # the optimizer skips parameters without a gradient
            self._drop_gradients = False
        if self.skip:
            pl_module.log("train/skipped_nonfinite", float(self.skipped), reduce_fx="max")

    def state_dict(self) -> dict:
        return {"skipped": self.skipped}

    def load_state_dict(self, state_dict: dict) -> None:
        self.skipped = state_dict.get("skipped", 0)
