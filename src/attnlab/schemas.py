"""Structured configs: the type and the keys of every data, model, trainer and logger option.

Each YAML option lists its schema first in its defaults (``- sequence_schema``), so Hydra merges
the YAML onto a typed, closed node: a value of the wrong type (``data.max_len=abc``) or a key
that does not exist (``data.maxlen=3``) fails while the config is composed, before
``attnlab.config.validate`` checks ranges and combinations.
"""

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore

# OmegaConf reads these annotations at runtime: it understands Optional[X], not X | None.


# --- data ---------------------------------------------------------------------------------------
@dataclass
class _Sizes:
    train_size: int = 20_000
    val_size: int = 1_000
    test_size: int = 500
    batch_size: int = 64
    seed: int = 0


@dataclass
class SequenceData(_Sizes):
    _target_: str = "attnlab.data.SequenceDataModule"
    task: str = "reverse"
    min_len: int = 1
    max_len: int = 8
    test_lengths: list[int] = field(default_factory=lambda: [8])


@dataclass
class DatesData(_Sizes):
    _target_: str = "attnlab.data.dates.DatesDataModule"
    target: str = "iso"
    formats: list[str] = field(default_factory=list)
    locales: list[str] = field(default_factory=list)


@dataclass
class DigitCanvasData(_Sizes):
    _target_: str = "attnlab.data.digits.DigitCanvasDataModule"
    target: str = "caption"
    min_digits: int = 1
    max_digits: int = 4
    layout: str = "mixed"
    height: int = 24
    width: int = 72
    slots: int = 6
    min_scale: int = 8
    max_scale: int = 12


# --- model --------------------------------------------------------------------------------------
@dataclass
class _Net:
    vocab_size: Optional[int] = None  # left null: train.py sets it from the data module


@dataclass
class RNNNet(_Net):
    _target_: str = "attnlab.nn.Seq2Seq"
    embed_dim: int = 64
    hidden_size: int = 128
    rnn: str = "gru"
    attention: Optional[str] = "additive"
    bidirectional: bool = True
    dropout: float = 0.0


@dataclass
class _TransformerCommon(_Net):
    d_model: int = 128
    num_heads: int = 4
    d_ff: int = 512
    dropout: float = 0.0
    norm: str = "pre"
    positional: str = "sinusoidal"
    max_len: int = 512
    scaled: bool = True


@dataclass
class TransformerNet(_TransformerCommon):
    _target_: str = "attnlab.nn.Transformer"
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2


@dataclass
class TransformerLMNet(_TransformerCommon):
    _target_: str = "attnlab.nn.TransformerLM"
    num_layers: int = 4


@dataclass
class TransformerClassifierNet(_TransformerCommon):
    _target_: str = "attnlab.nn.TransformerClassifier"
    num_classes: Optional[int] = None  # left null: train.py sets it from the data module
    num_layers: int = 4


@dataclass
class CaptionerNet(_Net):
    _target_: str = "attnlab.nn.Captioner"
    channels: list[int] = field(default_factory=lambda: [8, 32, 64])
    embed_dim: int = 64
    hidden_size: int = 128
    attention_dim: int = 64
    context: str = "attention"
    positions: bool = True
    dropout: float = 0.0


@dataclass
class TransformerCaptionerNet(_Net):
    _target_: str = "attnlab.nn.TransformerCaptioner"
    channels: list[int] = field(default_factory=lambda: [8, 32, 64])
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    d_ff: int = 256
    dropout: float = 0.0
    norm: str = "pre"
    max_len: int = 64


@dataclass
class CNNClassifierNet:
    _target_: str = "attnlab.nn.CNNClassifier"
    num_classes: Optional[int] = None  # left null: train.py sets it from the data module
    channels: list[int] = field(default_factory=lambda: [8, 32, 64])
    self_attention: bool = True
    num_heads: int = 1
    positions: bool = False


@dataclass
class _Trainable:
    optimizer: Any = None  # a partial (_target_, _partial_, lr, ...): any optimizer's arguments
    scheduler: Any = None


@dataclass
class _FineTunable(_Trainable):
    init_from: Optional[str] = None  # pretrained weights: a checkpoint, a run directory, a W&B artifact
    freeze: str = "none"  # none | embeddings | encoder
    body_lr: Optional[float] = None  # null: the body learns at the optimizer's rate, like the head


@dataclass
class _Module(_FineTunable):
    _target_: str = "attnlab.models.Seq2SeqModule"
    beam_size: int = 1


@dataclass
class RNNModel(_Module):
    net: RNNNet = field(default_factory=RNNNet)


@dataclass
class TransformerModel(_Module):
    net: TransformerNet = field(default_factory=TransformerNet)


@dataclass
class TransformerLMModel(_Module):
    net: TransformerLMNet = field(default_factory=TransformerLMNet)


@dataclass
class LanguageModel(_Trainable):
    _target_: str = "attnlab.models.LanguageModelModule"
    net: TransformerLMNet = field(default_factory=TransformerLMNet)


@dataclass
class TextClassifierModel(_FineTunable):
    _target_: str = "attnlab.models.TextClassifierModule"
    net: TransformerClassifierNet = field(default_factory=TransformerClassifierNet)


@dataclass
class CaptionerModel(_Module):
    _target_: str = "attnlab.models.CaptionModule"
    attention_reg: float = 1.0
    net: CaptionerNet = field(default_factory=CaptionerNet)


@dataclass
class TransformerCaptionerModel(_Module):
    _target_: str = "attnlab.models.CaptionModule"
    attention_reg: float = 0.0
    net: TransformerCaptionerNet = field(default_factory=TransformerCaptionerNet)


@dataclass
class ClassifierModel(_Trainable):
    _target_: str = "attnlab.models.ImageClassifierModule"
    net: CNNClassifierNet = field(default_factory=CNNClassifierNet)


# --- trainer ------------------------------------------------------------------------------------
@dataclass
class Trainer:
    """The Lightning Trainer arguments that attnlab's options use. Another one goes in with
    ``+trainer.NAME=VALUE``."""

    _target_: str = "lightning.pytorch.Trainer"
    default_root_dir: str = "."
    max_steps: int = 1500
    max_epochs: int = -1
    val_check_interval: Any = 250  # steps (int) or a fraction of an epoch (float)
    check_val_every_n_epoch: Optional[int] = None
    log_every_n_steps: int = 25
    gradient_clip_val: Optional[float] = None
    skip_nonfinite: bool = False  # attnlab's own: see attnlab.callbacks.FiniteLoss
    accelerator: str = "auto"
    devices: Any = "auto"  # "auto", a count, or a list of device ids
    num_nodes: int = 1
    strategy: Any = "auto"
    precision: Any = "32-true"
    deterministic: Any = False  # true, false or "warn"
    plugins: Any = None


# --- loggers ------------------------------------------------------------------------------------
@dataclass
class WandbLogger:
    _target_: str = "lightning.pytorch.loggers.WandbLogger"
    project: str = "attnlab"
    save_dir: str = "."
    offline: bool = True
    group: Optional[str] = None
    job_type: str = "train"
    name: Optional[str] = None
    tags: Optional[list[str]] = None
    entity: Optional[str] = None
    log_model: Any = False  # true: checkpoints also go to W&B as model artifacts (online only)


@dataclass
class FileLogger:  # CSVLogger, TensorBoardLogger
    _target_: str
    save_dir: str = "."
    name: str = ""


def register() -> None:
    """Puts the schemas in Hydra's ConfigStore, next to the YAML options that use them."""
    store = ConfigStore.instance()
    store.store(group="data", name="sequence_schema", node=SequenceData)
    store.store(group="data", name="dates_schema", node=DatesData)
    store.store(group="data", name="digit_canvas_schema", node=DigitCanvasData)
    store.store(group="model", name="rnn_schema", node=RNNModel)
    store.store(group="model", name="transformer_schema", node=TransformerModel)
    store.store(group="model", name="transformer_lm_schema", node=TransformerLMModel)
    store.store(group="model", name="language_model_schema", node=LanguageModel)
    store.store(group="model", name="text_classifier_schema", node=TextClassifierModel)
    store.store(group="model", name="captioner_schema", node=CaptionerModel)
    store.store(group="model", name="captioner_transformer_schema", node=TransformerCaptionerModel)
    store.store(group="model", name="classifier_schema", node=ClassifierModel)
    store.store(group="trainer", name="trainer_schema", node=Trainer)
    store.store(group="logger", name="wandb_schema", node={"wandb": WandbLogger})
    store.store(group="logger", name="csv_schema", node={"csv": FileLogger})
    store.store(group="logger", name="tensorboard_schema", node={"tensorboard": FileLogger})
