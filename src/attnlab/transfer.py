"""Start a model from pretrained weights: ``model.init_from=PATH``.

PATH is a checkpoint file, a run directory (its best checkpoint, else its last), or, with W&B
online, a model artifact (``entity/project/model-<run id>:latest``). The checkpoint must record
the same vocabulary as the data (attnlab writes it into every checkpoint), and every parameter
of the model's body must be in it with the same shape; the head is loaded when it fits and new
when it does not (`check_compatible`). Every refusal is a one-line `ConfigError`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor

from attnlab.checkpoint import read_checkpoint
from attnlab.checks import ConfigError
from attnlab.config import wandb_online
from attnlab.models.base import TrainableModule

log = logging.getLogger(__name__)
KEY = "model.init_from"


def _artifact_checkpoint(name: str) -> Path:
    """Download a W&B model artifact -> its checkpoint file."""
    if not wandb_online():
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
    checkpoint = read_checkpoint(checkpoint_file(spec), KEY, spec)
    return checkpoint["state_dict"], checkpoint.get("vocab")


def _vocabulary_difference(pretrained: list[str], vocab: list[str]) -> str:
    missing, extra = sorted(set(vocab) - set(pretrained)), sorted(set(pretrained) - set(vocab))
    parts = [f"the data has {missing[:5]} that the checkpoint lacks"] if missing else []
    parts += [f"the checkpoint has {extra[:5]} that the data lacks"] if extra else []
    return "; ".join(parts) or "the same symbols in another order, so every token id means something else"


def _listed(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def check_compatible(
    model: TrainableModule,
    weights: dict[str, Tensor],
    pretrained_vocab: list[str] | None,
    vocab: list[str],
    spec: str,
) -> list[str]:
    """Raise ConfigError unless the checkpoint fits ``model`` and the data's ``vocab``; return
    the names of the model's tensors that it provides.

    The model's body must be in the checkpoint, shape for shape. Its head is taken too when it
    fits (a language model fine-tuned as one) and is new otherwise (a classifier's). The
    checkpoint may hold a module the model does not have at all (a language model's output
    layer, for a classifier), but not more of a module the model has (a fifth block)."""
    if pretrained_vocab is None:
        raise ConfigError(KEY, spec, "records no vocabulary, so it cannot be checked against the data's")
    if list(pretrained_vocab) != list(vocab):
        difference = _vocabulary_difference(list(pretrained_vocab), list(vocab))
        allowed = f"was trained on another vocabulary ({len(pretrained_vocab)} symbols) than the data's"
        raise ConfigError(KEY, spec, f"{allowed} ({len(vocab)}): {difference}")
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
        raise ConfigError(
            KEY, spec, f"lacks {len(missing)} parameters of this model's body: {_listed(missing)}"
        )
    modules = {name.split(".")[1] for name in own if name.startswith("net.")}
    extra = [n for n in weights if n not in own and n.startswith("net.") and n.split(".")[1] in modules]
    if extra:
        raise ConfigError(
            KEY, spec, f"holds {len(extra)} parameters this model's body lacks: {_listed(extra)}"
        )
    return [name for name in own if name in weights and weights[name].shape == own[name].shape]


def load_pretrained(model: TrainableModule, spec: str, vocab: list[str]) -> list[str]:
    """Copy the pretrained weights into ``model`` -> the names of the tensors loaded."""
    weights, pretrained_vocab = read_pretrained(spec)
    names = check_compatible(model, weights, pretrained_vocab, vocab, spec)
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
    weights, pretrained_vocab = read_pretrained(str(spec))
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model, net=datamodule.net_args)
    check_compatible(model, weights, pretrained_vocab, list(datamodule.vocab), str(spec))
