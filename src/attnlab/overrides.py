"""The command line's overrides, composed and checked before Hydra runs anything: each job of a
sweep is composed once and validated, and Hydra's composition errors become one `ConfigError`
line that names the key and what is allowed."""

from __future__ import annotations

import os
import re
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from attnlab.checks import ConfigError
from attnlab.config import CONF_DIR, validate


def _compose(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)


_TYPE_NAMES = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false", "String": "a string"}


def _composition_error(good: list[str], override: str, error: Exception) -> ConfigError:
    key = override.split("=", 1)[0].lstrip("+~")
    value = override.split("=", 1)[1] if "=" in override else None
    chain, cause = [], error
    while cause is not None:
        chain.append(str(cause))
        cause = cause.__cause__
    text = "\n".join(chain)
    if converted := re.search(r"could not be converted to (\w+)", text):  # a schema's type
        return ConfigError(key, value, f"must be {_TYPE_NAMES.get(converted[1], converted[1])}")
    if "is not a valid bool" in text:
        return ConfigError(key, value, "must be true or false")
    missing = re.search(r"Key '(\w+)' not in '(\w+)'\s+full_key: ([\w.]+)", text)
    if missing and missing[3] != key:  # a group option sets a key that its target does not have
        parent = missing[3].rpartition(".")[0]
        target = OmegaConf.select(_compose(good), f"{parent}._target_") or missing[2]
        return ConfigError(key, value, f"sets {missing[3]}, which {parent} ({target}) does not have")
    group_dir = CONF_DIR / key
    if group_dir.is_dir():  # a config group: its options are the YAML files in it
        options = ", ".join(sorted(p.stem for p in group_dir.glob("*.yaml")))
        return ConfigError(key, value, f"no such option; choose one of {options}")
    parent, _, _ = key.rpartition(".")
    node = OmegaConf.select(_compose(good), parent) if parent else _compose(good)
    if OmegaConf.is_dict(node) and key.rpartition(".")[2] not in node:
        where = parent or "the top level"
        return ConfigError(key, None, f"no such key; {where} has {', '.join(map(str, node))}")
    return ConfigError(key, value, chain[0].strip().splitlines()[0])


def _single_runs(overrides: list[str]) -> list[list[str]]:
    """Every value of each sweep (``k=a,b``) composed once, with the other sweeps at their first
    value: not their product, so that checking stays cheap."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    sweeps = {o.get_key_element(): list(o.sweep_string_iterator()) for o in parsed if o.is_sweep_override()}
    first = {key: values[0] for key, values in sweeps.items()}
    runs = [fixed + [f"{k}={v}" for k, v in first.items()]]
    for key, values in sweeps.items():
        for value in values[1:]:
            runs.append(fixed + [f"{k}={value if k == key else v}" for k, v in first.items()])
    return runs


def check_output_dir(overrides: list[str]) -> None:
    """The run (or sweep) directory must be creatable and writable: fail now, not after setup.
    It must not hold an earlier run's checkpoints either, unless ``resume=`` continues that run:
    with an on-exception checkpoint configured, Lightning's ``fit`` restores the newest one it
    finds, so a new run would silently carry on from an old one (and overwrite it)."""
    pairs = [(key.lstrip("+~"), value) for key, _, value in (o.partition("=") for o in overrides)]
    resuming = any(key == "resume" and value not in ("", "null") for key, value in pairs)
    for key, value in pairs:
        if key not in ("hydra.run.dir", "hydra.sweep.dir") or "${" in value:
            continue
        path = Path(value.strip("'\"")).expanduser().absolute()
        existing = next(p for p in (path, *path.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            what = "is not a directory" if not existing.is_dir() else "is not writable"
            raise ConfigError(key, value, f"cannot create the output directory: {existing} {what}")
        pattern = "checkpoints/*.ckpt" if key == "hydra.run.dir" else "*/checkpoints/*.ckpt"
        if not resuming and next(path.glob(pattern), None) is not None:
            allowed = "already holds the checkpoints of an earlier run; give a new directory"
            raise ConfigError(key, value, allowed + (", or resume=DIR" if key == "hydra.run.dir" else ""))


def check_overrides(overrides: list[str]) -> list[DictConfig]:
    """Compose and validate what these command-line overrides give (each job of a sweep); raise
    ConfigError if bad, else return the composed configs."""
    check_output_dir(overrides)
    overrides = [o for o in overrides if not o.lstrip("+~").startswith("hydra")]
    try:
        runs = _single_runs(overrides)
    except HydraException as error:
        message = str(error).strip().splitlines()[0]
        raise ConfigError("overrides", " ".join(overrides), message) from None
    configs = []
    for run in runs:
        try:
            cfg = _compose(run)
        except (HydraException, ValueError):
            good: list[str] = []
            for override in run:  # find the override that breaks composition
                try:
                    _compose(good + [override])
                except (HydraException, ValueError) as error:
                    raise _composition_error(good, override, error) from None
                good.append(override)
            raise
        validate(cfg)
        configs.append(cfg)
    return configs
