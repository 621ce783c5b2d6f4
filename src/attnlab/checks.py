"""What every config check is made of: the one-line `ConfigError`, and checks of single values
(an integer, a choice, a fraction, a learning rate) and of an instantiated node's keys."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf


class ConfigError(ValueError):
    """A config value that attnlab refuses; ``str()`` is the one line shown to the user."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        super().__init__(f"{key}={value!r}: {allowed}" if value is not None else f"{key}: {allowed}")


def integer(cfg: DictConfig, key: str, minimum: int) -> int:
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(key, value, f"must be an integer >= {minimum}")
    return value


def choice(cfg: DictConfig, key: str, allowed: Iterable[Any]) -> Any:
    allowed = list(allowed)
    value = OmegaConf.select(cfg, key)
    if value not in allowed:
        raise ConfigError(key, value, f"choose one of {', '.join(map(str, allowed))}")
    return value


def data_set_sizes(cfg: DictConfig) -> None:
    """The sizes train.py takes from the data module: never set by hand."""
    for key in ("vocab_size", "num_classes"):
        if (value := OmegaConf.select(cfg, f"model.net.{key}")) is not None:
            raise ConfigError(f"model.net.{key}", value, "is set from the task's data; leave it out")


def learning_rate(cfg: DictConfig) -> None:
    lr = OmegaConf.select(cfg, "model.optimizer.lr")
    if not isinstance(lr, (int, float)) or lr <= 0:
        raise ConfigError("model.optimizer.lr", lr, "must be a number > 0")


def parameters_exist(cfg: DictConfig, key: str) -> None:
    """Every key of an instantiated node must be a parameter of its _target_ (besides the ones
    train.py passes itself)."""
    node = OmegaConf.select(cfg, key)
    target = node.get("_target_")
    names = constructor_parameters(get_class(target))
    for name in node:
        if not str(name).startswith("_") and name not in names:
            allowed = ", ".join(names)
            raise ConfigError(f"{key}.{name}", None, f"{target} takes no such parameter; it takes {allowed}")


def constructor_parameters(cls: type) -> list[str]:
    """The constructor's named parameters, and its bases' when it passes ``**kwargs`` on."""
    names: list[str] = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        signature = inspect.signature(klass.__init__).parameters.values()
        named = (p for p in signature if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
        names += [p.name for p in named if p.name != "self"]
        if not any(p.kind == p.VAR_KEYWORD for p in signature):
            break
    return list(dict.fromkeys(names))


def fraction(cfg: DictConfig, key: str) -> None:
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(key, value, "must be a number in [0, 1)")
