"""Ctrl-C that stops a run between two steps rather than wherever the signal lands."""

from __future__ import annotations

import signal
import threading
from typing import Any

import lightning as L


class GracefulInterrupt(L.Callback):
    """The first Ctrl-C asks the run to stop at the end of the current batch; the run then goes
    through Lightning's interrupt path (``on_exception.ckpt``, loggers closed) from that safe
    point. A KeyboardInterrupt raised at an arbitrary point can land inside W&B's socket I/O and
    leave its run unable to close. A second Ctrl-C interrupts at once, as usual."""

    def __init__(self) -> None:
        self._requested = False
        self._previous: Any = None

    def _request(self, signum: int, frame: Any) -> None:
        self._requested = True
        signal.signal(signal.SIGINT, self._previous)  # the next Ctrl-C acts at once

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._requested = False
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._request)

    def _stop_if_requested(self) -> None:
        if self._requested:
            self._requested = False
            raise KeyboardInterrupt

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self._stop_if_requested()

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self._stop_if_requested()

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if (
            stage == "fit"
            and self._previous is not None
            and threading.current_thread() is threading.main_thread()
        ):
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
