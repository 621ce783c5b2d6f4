"""Start a model from pretrained weights: ``model.init_from=PATH``.

PATH is a checkpoint file, a run directory (its best checkpoint, else its last), or, with W&B
online, a model artifact (``entity/project/model-<run id>:latest``). The checkpoint must record
the same vocabulary as the data (attnlab writes it into every checkpoint), and every parameter
of the model's body must be in it with the same shape; the model's head is new, and the
pretrained model's own head is left out. Every refusal is a one-line `ConfigError`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor

from attnlab.config import ConfigError
from attnlab.models.base import TrainableModule

log = logging.getLogger(__name__)
KEY = "model.init_from"


def _artifact_checkpoint(name: str) -> Path:
    """Download a W&B model artifact -> its checkpoint file."""
    if os.environ.get("WANDB_MODE") != "online":
        allowed = "is not a file or directory here; a W&B artifact name needs W&B online (WANDB_MODE=online)"
        raise ConfigError(KEY, name, allowed)
    import wandb  # only an online fine-tune needs the API client

    try:
        folder = Path(wandb.Api().artifact(name, type="model").download())
    except Exception as error:  # unknown name, no access, no network
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise ConfigError(KEY, name, f"cannot fetch the W&B artifact ({reason})") from None
    found = sorted(folder.glob("*.ckpt"))
    if not found:
        raise ConfigError(KEY, name, "the W&B artifact holds no .ckpt file")
    return found[0]


def checkpoint_file(spec: str) -> Path:
    """The checkpoint that ``model.init_from=spec`` names."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        folder = path / "checkpoints"
        for candidate in [*sorted(folder.glob("best-*.ckpt"))[-1:], folder / "last.ckpt"]:
            if candidate.is_file():
                return candidate
        raise ConfigError(KEY, spec, "is a directory without checkpoints/best-*.ckpt or last.ckpt")
    if ":" in spec:
        return _artifact_checkpoint(spec)
    raise ConfigError(
        KEY, spec, "no such file or directory (give a .ckpt file, a run directory or a W&B artifact)"
    )


def read_pretrained(spec: str) -> tuple[dict[str, Tensor], list[str] | None]:
    """-> the checkpoint's weights and the vocabulary it was trained on."""
    path = checkpoint_file(spec)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        weights = checkpoint["state_dict"]
    except Exception as error:  # truncated, corrupt, not a checkpoint, unsafe pickle
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:120]
        raise ConfigError(KEY, spec, f"{path} is not a readable checkpoint ({reason})") from None
    return weights, checkpoint.get("vocab")


def _vocabulary_difference(pretrained: list[str], vocab: list[str]) -> str:
    missing, extra = sorted(set(vocab) - set(pretrained)), sorted(set(pretrained) - set(vocab))
    parts = [f"the data has {missing[:5]} that the checkpoint lacks"] if missing else []
    parts += [f"the checkpoint has {extra[:5]} that the data lacks"] if extra else []
    return "; ".join(parts) or "the same symbols in another order, so every token id means something else"


def check_compatible(model: TrainableModule, weights: dict[str, Tensor], vocab_of: list[str] | None,
                     vocab: list[str], spec: str) -> list[str]:  # fmt: skip
    """Raise ConfigError unless the checkpoint fits ``model`` and the data's ``vocab``; return
    the names of the model's tensors that it provides."""
    if vocab_of is None:
        raise ConfigError(KEY, spec, "records no vocabulary, so it cannot be checked against the data's")
    if list(vocab_of) != list(vocab):
        raise ConfigError(
            KEY, spec, f"was trained on another vocabulary ({len(vocab_of)} symbols) than the data's "
            f"({len(vocab)}): {_vocabulary_difference(list(vocab_of), list(vocab))}",
        )  # fmt: skip
    own = model.state_dict()
    head = getattr(model.net, "HEAD", "")
    body = [name for name in own if not head or not name.startswith(f"net.{head}.")]
    differ = [
        f"{name} {tuple(weights[name].shape)} vs {tuple(own[name].shape)}"
        for name in body
        if name in weights and weights[name].shape != own[name].shape
    ]
    if differ:
        listed = "; ".join(differ)
        raise ConfigError(
            KEY, spec, f"{len(differ)} parameters differ in shape (pretrained vs this model): {listed}"
        )
    missing = [name for name in body if name not in weights]
    if missing:
        shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
        raise ConfigError(KEY, spec, f"lacks {len(missing)} parameters of this model's body: {shown}")
    return [name for name in own if name in weights and weights[name].shape == own[name].shape]


def load_pretrained(model: TrainableModule, spec: str, vocab: list[str]) -> list[str]:
    """Copy the pretrained body into ``model`` -> the names of the tensors loaded."""
    weights, vocab_of = read_pretrained(spec)
    names = check_compatible(model, weights, vocab_of, vocab, spec)
    model.load_state_dict({name: weights[name] for name in names}, strict=False)
    new = sorted(set(model.state_dict()) - set(names))
    left_out = sorted(set(weights) - set(names))
    log.info("model.init_from: %d tensors from %s; new: %s; left out: %s", len(names), spec, new, left_out)
    return names


def check_init_from(cfg: DictConfig) -> None:
    """Before training: ``model.init_from`` must name weights that fit this config's model."""
    spec = cfg.model.get("init_from")
    if not spec or cfg.get("resume"):  # a resumed run starts from its own last checkpoint
        return
    weights, vocab_of = read_pretrained(str(spec))
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model, net=datamodule.net_args)
    check_compatible(model, weights, vocab_of, list(datamodule.vocab), str(spec))
