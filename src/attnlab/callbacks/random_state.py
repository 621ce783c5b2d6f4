"""The random number generators' state, saved with every checkpoint and restored on resume."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import torch


class RandomState(L.Callback):
    """Saves the Python and torch (CPU and CUDA) generators with the checkpoint and puts them
    back just before the first training batch of a resumed run, so that dropout and anything
    else random continue as if the run had never stopped. (Lightning does not save them.)"""

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        state = {"python": random.getstate(), "torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        random.setstate(state["python"])
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
