"""Checkpoints that are never half-written, and read back with one clear error when unusable."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from attnlab.checks import ConfigError


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes a checkpoint to a temporary file next to its target, flushes it to disk, then
    renames it over the target. A rename within one directory is atomic, so a process killed at
    any point leaves either the previous checkpoint or the new one, whole. (Lightning's own
    writer stages the file in the system's temp directory, and a move across file systems is a
    copy that a kill can cut short.) Local paths only; remote URLs go to Lightning's writer."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(staging, target)
        except BaseException:
            Path(staging).unlink(missing_ok=True)
            raise


def read_checkpoint(path: Path, key: str, value: Any) -> dict[str, Any]:
    """A checkpoint with its ``state_dict``, loaded with ``weights_only=True``; a truncated,
    corrupt or unsafe file is a ConfigError on ``key=value`` (resume, model.init_from)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        checkpoint["state_dict"]
    except Exception as error:  # truncated, corrupt, not a checkpoint, unsafe pickle
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:120]
        raise ConfigError(key, value, f"{path} is not a readable checkpoint ({reason})") from None
    return checkpoint
