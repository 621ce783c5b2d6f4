"""Checks a composed config before anything is built: ranges, combinations, W&B online. Each
refusal is a `ConfigError`, one line that names the key and what is allowed. The command line's
side (composing the overrides, Hydra's composition errors) is `attnlab.overrides`."""

from __future__ import annotations

import functools
import netrc
import os
import socket
import urllib.parse
from pathlib import Path

from babel import Locale, UnknownLocaleError
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from attnlab import schemas
from attnlab.checks import (
    ConfigError,
    choice,
    data_set_sizes,
    fraction,
    integer,
    learning_rate,
    parameters_exist,
)
from attnlab.data.dates import TARGETS as DATE_TARGETS
from attnlab.data.digits import LAYOUTS, TARGETS, slot_grid
from attnlab.data.tasks import MIN_LENGTH, TASKS
from attnlab.metrics import MAX_LENGTH
from attnlab.models.base import FREEZE
from attnlab.nn.captioner import CONTEXTS
from attnlab.nn.rnn_attention import SCORES
from attnlab.nn.seq2seq import RNNS
from attnlab.nn.transformer import NORMS, POSITIONS


def _find_conf_dir() -> Path:
    """conf/ of a source checkout (editable install), else the copy packaged in the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parents[1] / "conf", here / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"attnlab cannot find its conf/ directory near {here}")


CONF_DIR = _find_conf_dir()


def wandb_online() -> bool:
    """W&B stays offline unless the user asks for online (WANDB_MODE=online) or a W&B sweep
    agent runs the job (it sets WANDB_SWEEP_ID and needs the run online to report back)."""
    return os.environ.get("WANDB_MODE") == "online" or "WANDB_SWEEP_ID" in os.environ


def _register_resolvers() -> None:
    if not OmegaConf.has_resolver("not"):
        OmegaConf.register_new_resolver("not", lambda value: not value)
    if not OmegaConf.has_resolver("wandb_offline"):
        OmegaConf.register_new_resolver("wandb_offline", lambda: not wandb_online())


_register_resolvers()
schemas.register()  # the typed, closed nodes the YAML options build on


# --- W&B online: credentials and a reachable server, checked before anything runs -------------


@functools.lru_cache
def _wandb_server_problem(base_url: str, has_key: bool) -> str | None:
    """Why an online W&B run cannot start, or None. At most a 5-second connection attempt."""
    url = urllib.parse.urlparse(base_url)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    if not has_key:
        try:
            has_key = netrc.netrc().authenticators(host) is not None
        except (FileNotFoundError, netrc.NetrcParseError):
            has_key = False
    if not has_key:
        return f"no W&B API key for {host} (wandb login, or WANDB_API_KEY)"
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        return f"the W&B server {base_url} is unreachable ({error.strerror or error})"
    return None


def _validate_wandb(cfg: DictConfig) -> None:
    for name, logger in (cfg.get("logger") or {}).items():
        if logger and str(logger.get("_target_")).endswith("WandbLogger") and logger.get("offline") is False:
            base_url = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
            problem = _wandb_server_problem(base_url, bool(os.environ.get("WANDB_API_KEY")))
            if problem:
                raise ConfigError(
                    f"logger.{name}.offline",
                    False,
                    f"{problem}; train offline instead (leave WANDB_MODE unset) and upload the run later "
                    "with: wandb sync <run dir>/wandb/offline-run-*",
                )


# --- semantic checks ---------------------------------------------------------------------------


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError on the first value that cannot work. Runs before anything is built."""
    parameters_exist(cfg, "data")
    for key in ("train_size", "val_size", "test_size", "batch_size"):
        integer(cfg, f"data.{key}", 1)
    data_target = str(OmegaConf.select(cfg, "data._target_"))
    if data_target.endswith("DigitCanvasDataModule"):
        _validate_canvases(cfg)
        _validate_image_model(cfg)
    else:
        longest = (
            _validate_dates(cfg) if data_target.endswith("DatesDataModule") else _validate_sequences(cfg)
        )
        _validate_model(cfg, longest)
    integer(cfg, "trainer.max_steps", 1)
    _validate_wandb(cfg)


def _validate_sequences(cfg: DictConfig) -> int:
    """-> the longest source length."""
    task = choice(cfg, "data.task", TASKS)
    min_len = integer(cfg, "data.min_len", MIN_LENGTH[task])
    max_len = integer(cfg, "data.max_len", 1)
    if min_len > max_len:
        raise ConfigError("data.min_len", min_len, f"must be <= data.max_len ({max_len})")
    test_lengths = OmegaConf.select(cfg, "data.test_lengths")
    if not OmegaConf.is_list(test_lengths) or not test_lengths:
        raise ConfigError("data.test_lengths", test_lengths, "must be a non-empty list of integers")
    for i in range(len(test_lengths)):
        if integer(cfg, f"data.test_lengths[{i}]", MIN_LENGTH[task]) > MAX_LENGTH:
            raise ConfigError(f"data.test_lengths[{i}]", test_lengths[i], f"must be <= {MAX_LENGTH}")
    return max(max_len, *test_lengths)


# What each target of the dates data needs: the LightningModule, and the option that gives it.
DATE_MODULES = {
    "iso": ("Seq2SeqModule", "a sequence model such as model=transformer_lm"),
    "month": ("TextClassifierModule", "model=lm_classifier"),
    "text": ("LanguageModelModule", "model=lm_pretrain"),
}


def _validate_dates(cfg: DictConfig) -> int:
    """-> a bound on the source length (the longest full-format date is about 30 characters)."""
    target = choice(cfg, "data.target", DATE_TARGETS)
    module = str(cfg.model._target_).rsplit(".", 1)[-1]
    if module != DATE_MODULES[target][0]:
        allowed = f"does not fit data.target={target}; use {DATE_MODULES[target][1]}"
        raise ConfigError("model._target_", cfg.model._target_, allowed)
    for key in ("data.formats", "data.locales"):
        value = OmegaConf.select(cfg, key)
        if not OmegaConf.is_list(value) or not value:
            raise ConfigError(key, value, "must be a non-empty list")
    for i, locale in enumerate(cfg.data.locales):
        try:
            Locale.parse(locale)
        except (ValueError, UnknownLocaleError):
            allowed = "is not a locale Babel knows (e.g. en_US, fr_FR)"
            raise ConfigError(f"data.locales[{i}]", locale, allowed) from None
    return 64


def _validate_canvases(cfg: DictConfig) -> None:
    choice(cfg, "data.target", TARGETS)
    low, high = integer(cfg, "data.min_digits", 1), integer(cfg, "data.max_digits", 1)
    if low > high:
        raise ConfigError("data.min_digits", low, f"must be <= data.max_digits ({high})")
    slots = integer(cfg, "data.slots", 2)
    if slots % 2:
        raise ConfigError("data.slots", slots, "must be even (the grid layout has two rows)")
    if high > slots:
        raise ConfigError("data.max_digits", high, f"must be <= data.slots ({slots}): one digit per slot")
    layout = choice(cfg, "data.layout", LAYOUTS)
    height, width = integer(cfg, "data.height", 8), integer(cfg, "data.width", 8)
    small, large = integer(cfg, "data.min_scale", 1), integer(cfg, "data.max_scale", 1)
    if small > large:
        raise ConfigError("data.min_scale", small, f"must be <= data.max_scale ({large})")
    for kind in ("row", "grid") if layout == "mixed" else (layout,):
        _, columns = slot_grid(kind, slots)
        fits = min(height // 2, width // columns)  # row digits cross the middle line, grid ones not
        if large > fits:
            allowed = f"must be <= {fits}, the side of a {kind} slot on a {height} x {width} canvas"
            raise ConfigError("data.max_scale", large, allowed)


def _net_kind(cfg: DictConfig) -> str:
    target = str(OmegaConf.select(cfg, "model.net._target_"))
    if target.endswith("Captioner"):
        return "captioner"
    if target.endswith("CNNClassifier"):
        return "classifier"
    if target.endswith("TransformerClassifier"):
        return "text_classifier"
    return "sequence"


def _validate_image_model(cfg: DictConfig) -> None:
    target = cfg.data.target
    kind, needed = ("captioner", "model=captioner, captioner_fixed, captioner_noreg or captioner_transformer")
    if target != "caption":
        kind, needed = ("classifier", "model=cnn_selfattn")
    if _net_kind(cfg) != kind:
        allowed = f"does not take digit canvases with data.target={target}; use {needed}"
        raise ConfigError("model.net._target_", cfg.model.net._target_, allowed)
    parameters_exist(cfg, "model.net")
    data_set_sizes(cfg)
    net = "model.net"
    channels = OmegaConf.select(cfg, f"{net}.channels")
    if not OmegaConf.is_list(channels) or not channels:
        raise ConfigError(f"{net}.channels", channels, "must be a non-empty list of integers")
    for i in range(len(channels)):
        integer(cfg, f"{net}.channels[{i}]", 1)
    if 2 ** (len(channels) - 1) > min(cfg.data.height, cfg.data.width):
        raise ConfigError(f"{net}.channels", list(channels), "pools the canvas away: use fewer blocks")
    if kind == "captioner":
        if str(cfg.model.net._target_).endswith("TransformerCaptioner"):
            _validate_transformer(cfg, 0, ("num_layers", "d_ff"))
            integer(cfg, f"{net}.max_len", cfg.data.max_digits + 1)  # the caption and its EOS
            if cfg.model.net.d_model % 4:
                raise ConfigError(
                    f"{net}.d_model", cfg.model.net.d_model, "must be divisible by 4 (2D positions)"
                )
        else:
            for key in ("embed_dim", "hidden_size", "attention_dim"):
                integer(cfg, f"{net}.{key}", 1)
            choice(cfg, f"{net}.context", CONTEXTS)
            fraction(cfg, f"{net}.dropout")
        integer(cfg, "model.beam_size", 1)
        reg = OmegaConf.select(cfg, "model.attention_reg")
        if not isinstance(reg, (int, float)) or reg < 0:
            raise ConfigError("model.attention_reg", reg, "must be a number >= 0 (0 turns it off)")
    else:
        heads = integer(cfg, f"{net}.num_heads", 1)
        if channels[-1] % heads:
            raise ConfigError(
                f"{net}.num_heads", heads, f"must divide model.net.channels[-1] ({channels[-1]})"
            )
        if OmegaConf.select(cfg, f"{net}.positions") and channels[-1] % 4:  # added to the features
            raise ConfigError(
                f"{net}.channels[-1]", channels[-1], "must be divisible by 4 with positions=true"
            )
    learning_rate(cfg)


def _validate_model(cfg: DictConfig, longest: int) -> None:
    if _net_kind(cfg) not in ("sequence", "text_classifier"):
        allowed = f"takes digit canvases, not {cfg.data._target_}'s sequences; use data=digit_captions"
        raise ConfigError("model.net._target_", cfg.model.net._target_, allowed)
    parameters_exist(cfg, "model.net")
    data_set_sizes(cfg)
    target = str(OmegaConf.select(cfg, "model.net._target_"))
    if target.endswith("TransformerLM"):  # source and target share one sequence
        _validate_transformer(cfg, 2 * longest, ("num_layers", "d_ff"))
    elif target.endswith("TransformerClassifier"):  # the text alone
        _validate_transformer(cfg, longest, ("num_layers", "d_ff"))
    elif target.endswith("Transformer"):
        _validate_transformer(cfg, longest, ("num_encoder_layers", "num_decoder_layers", "d_ff"))
    else:
        _validate_rnn(cfg)
    if "beam_size" in cfg.model:
        integer(cfg, "model.beam_size", 1)
    learning_rate(cfg)
    _validate_fine_tuning(cfg)


def _validate_fine_tuning(cfg: DictConfig) -> None:
    """model.init_from, model.freeze and model.body_lr; the weights themselves are checked by
    attnlab.transfer.check_init_from, which needs the data and the model built."""
    raw = OmegaConf.to_container(cfg.model, resolve=False)
    if raw.get("init_from") == "${pretrained}" and cfg.get("pretrained") is None:
        allowed = "init=pretrained starts from it: give a run of experiment=pretrain, pretrained=<run dir>"
        raise ConfigError("pretrained", None, allowed)
    freeze = choice(cfg, "model.freeze", FREEZE) if "freeze" in cfg.model else "none"
    body_lr = OmegaConf.select(cfg, "model.body_lr")
    number = isinstance(body_lr, (int, float)) and not isinstance(body_lr, bool)
    if body_lr is not None and (not number or body_lr <= 0):
        raise ConfigError("model.body_lr", body_lr, "must be a number > 0, or null for the optimizer's rate")
    divisible = get_class(cfg.model.net._target_)
    if (freeze != "none" or body_lr is not None) and not getattr(divisible, "HEAD", ""):
        key = "model.freeze" if freeze != "none" else "model.body_lr"
        allowed = "needs a net with a body and a head: model=transformer_lm or model=lm_classifier"
        raise ConfigError(key, freeze if freeze != "none" else body_lr, allowed)
    if freeze == "encoder" and body_lr is not None:
        raise ConfigError(
            "model.body_lr", body_lr, "has no body to act on with model.freeze=encoder; leave it null"
        )


def _validate_rnn(cfg: DictConfig) -> None:
    net = "model.net"
    hidden = integer(cfg, f"{net}.hidden_size", 1)
    integer(cfg, f"{net}.embed_dim", 1)
    choice(cfg, f"{net}.rnn", RNNS)
    choice(cfg, f"{net}.attention", [None, *SCORES])
    if OmegaConf.select(cfg, f"{net}.bidirectional") and hidden % 2:
        raise ConfigError(f"{net}.hidden_size", hidden, "must be even with a bidirectional encoder")
    fraction(cfg, f"{net}.dropout")


def _validate_transformer(cfg: DictConfig, longest: int, sizes: tuple[str, ...]) -> None:
    net = "model.net"
    d_model = integer(cfg, f"{net}.d_model", 1)
    heads = integer(cfg, f"{net}.num_heads", 1)
    if d_model % heads:
        raise ConfigError(f"{net}.num_heads", heads, f"must divide model.net.d_model ({d_model})")
    for key in sizes:
        integer(cfg, f"{net}.{key}", 1)
    choice(cfg, f"{net}.norm", NORMS)
    fraction(cfg, f"{net}.dropout")
    if longest:  # a sequence source: its positions must fit the table
        choice(cfg, f"{net}.positional", POSITIONS)
        # the target is one longer than the source for copy/reverse/sort, two for add (carry + EOS)
        integer(cfg, f"{net}.max_len", longest + 2)
