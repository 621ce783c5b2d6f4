"""Every group option and experiment composes and validates; bad input gets one clear line."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from attnlab.checks import ConfigError
from attnlab.config import CONF_DIR, validate
from attnlab.overrides import check_overrides
from attnlab.transfer import check_init_from

ROOT = Path(__file__).resolve().parents[1]
GROUPS = [
    "data",
    "model",
    "length",
    "trainer",
    "logger",
    "callbacks",
    "experiment",
    "norm",
    "heads",
    "schedule",
    "digits",
    "downstream",
    "init",
]
CAPTIONS = ["data=digit_captions", "model=captioner"]
NEEDS = {  # what an option needs besides itself, by option or by group
    "norm": ["model=transformer"],  # Transformer axes
    "heads": ["model=transformer"],
    "digits": CAPTIONS,
    "data=digit_captions": CAPTIONS,
    "model=captioner": CAPTIONS,
    "model=captioner_fixed": ["data=digit_captions"],
    "model=captioner_noreg": ["data=digit_captions"],
    "model=captioner_transformer": ["data=digit_captions"],
    "model=cnn_selfattn": ["data=digit_captions", "data.target=sum"],
    "model=lm_pretrain": ["data=date_corpus"],
    "data=date_corpus": ["model=lm_pretrain"],
    "model=lm_classifier": ["data=date_months"],
    "data=date_months": ["model=lm_classifier"],
    "init=pretrained": ["model=transformer_lm", "pretrained=/runs/pretrain"],
    "experiment=transfer": ["pretrained=/runs/pretrain"],
}


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def _compose(overrides: list[str]):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


@pytest.mark.parametrize(
    "override", [f"{g}={o}" for g in GROUPS for o in _options(g) if o not in ("sequence", "default")]
)
def test_every_group_option_composes_and_validates(override):
    group, option = override.split("=")
    cfg = _compose([*NEEDS.get(override, NEEDS.get(group, [])), override])
    validate(cfg)
    assert cfg.hydra.runtime.choices[group] == option


@pytest.mark.parametrize("experiment", _options("experiment"))
def test_every_experiment_sweep_combination_composes(experiment):
    base = [f"experiment={experiment}", *NEEDS.get(f"experiment={experiment}", [])]
    cfg = _compose(base)
    validate(cfg)
    if experiment == "pretrain":  # the one experiment that is a single run
        assert not cfg.hydra.sweeper.params
        return
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    axes = [[f"{key}={value}" for value in str(values).split(",")] for key, values in params.items()]
    for combination in itertools.product(*axes):
        validate(_compose([*base, *combination]))


def test_length_options_set_train_and_test_lengths_together():
    for option in _options("length"):
        n = int(option.removeprefix("len"))
        data = _compose([f"length={option}"]).data
        assert data.max_len == n and data.min_len <= n
        assert max(data.test_lengths) > n  # tests past the training cap


def test_wandb_is_offline_unless_asked(monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert _compose([]).logger.wandb.offline is True
    monkeypatch.setenv("WANDB_MODE", "online")
    assert _compose([]).logger.wandb.offline is False
    assert _compose(["logger.wandb.offline=false"]).logger.wandb.offline is False


def test_the_language_models_share_one_body_so_that_a_pretrained_one_loads():
    keys = ("d_model", "num_heads", "num_layers", "d_ff", "norm", "positional", "scaled")
    bodies = {}
    for model in ("lm_pretrain", "transformer_lm", "lm_classifier"):
        net = yaml.safe_load((CONF_DIR / "model" / f"{model}.yaml").read_text())["net"]
        bodies[model] = {key: net[key] for key in keys}
    assert bodies["lm_pretrain"] == bodies["transformer_lm"] == bodies["lm_classifier"]


def test_pretraining_logs_its_checkpoints_as_artifacts_only_online(monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert _compose(["experiment=pretrain"]).logger.wandb.log_model is False
    assert _compose(["experiment=pretrain", "logger.wandb.offline=false"]).logger.wandb.log_model is True


CAP = "data=digit_captions model=captioner"
CAPT = "data=digit_captions model=captioner_transformer"
CLS = "data=digit_captions data.target=sum model=cnn_selfattn"
LM = "data=dates model=transformer_lm"
MOD = "model._target_='attnlab.models."
BAD = {
    "model=nope": "model='nope': no such option; choose one of captioner, captioner_fixed, captioner_noreg",
    "length=8": "length='8': no such option; choose one of len16, len24, len32, len64, len8",
    "data.maxlen=3": "data.maxlen: no such key; data has ",
    "data.max_len=0": "data.max_len=0: must be an integer >= 1",
    "data.min_len=12": "data.min_len=12: must be <= data.max_len (8)",
    "model.net.hidden_size=-4": "model.net.hidden_size=-4: must be an integer >= 1",
    "model.net.hidden_size=33": "model.net.hidden_size=33: must be even with a bidirectional encoder",
    "data.task=nope": "data.task='nope': choose one of copy, reverse, sort, add",
    "data=add data.min_len=2": "data.min_len=2: must be an integer >= 3",
    "model.net.rnn=transformer": "model.net.rnn='transformer': choose one of gru, lstm",
    "model.optimizer.lr=0": "model.optimizer.lr=0: must be a number > 0",
    "model=seq2seq_fixed,nope": "model='nope': no such option",
    "+model.net.foo=3": "model.net.foo: attnlab.nn.Seq2Seq takes no such parameter; it takes vocab_size",
    "norm=pre": "norm='pre': sets model.net.norm, which model.net (attnlab.nn.Seq2Seq) does not have",
    "model=transformer model.net.num_heads=3": "model.net.num_heads=3: must divide model.net.d_model (128)",
    "model=transformer heads=h16 model.net.d_model=24": "model.net.num_heads=16: must divide",
    "model=transformer length=len64 model.net.max_len=100": "model.net.max_len=100: must be an",
    "model=transformer model.net.norm=batch": "model.net.norm='batch': choose one of post, pre, rms, none",
    "data=dates data.locales=[xx_YY]": "data.locales[0]='xx_YY': is not a locale Babel knows",
    "data=dates data.formats=[]": "data.formats=[]: must be a non-empty list",
    "data.max_len=abc": "data.max_len='abc': must be an integer",
    "data.max_len=2.5": "data.max_len='2.5': must be an integer",
    "trainer.max_steps=1.5": "trainer.max_steps='1.5': must be an integer",
    "trainer.log_every_n_steps=often": "trainer.log_every_n_steps='often': must be an integer",
    "model.net.dropout=high": "model.net.dropout='high': must be a number",
    "model=transformer model.net.hidden_size=64": "model.net.hidden_size: no such key; model.net has ",
    "data.batch_size=0": "data.batch_size=0: must be an integer >= 1",
    "model.net.vocab_size=5": "model.net.vocab_size=5: is set from the task's data; leave it out",
    "data.test_lengths=[]": "data.test_lengths=[]: must be a non-empty list of integers",
    "data.test_lengths=[8,100000]": "data.test_lengths[1]=100000: must be <= 4096",
    "trainer.max_steps=-1": "trainer.max_steps=-1: must be an integer >= 1",
    "trainer.skip_nonfinite=maybe": "trainer.skip_nonfinite='maybe': must be true or false",
    "model.beam_size=0": "model.beam_size=0: must be an integer >= 1",
    "model.net.dropout=1.5": "model.net.dropout=1.5: must be",
    "model.optimizer.lr=fast": "model.optimizer.lr='fast': must be a number > 0",
    "model=transformer model.net.positional=rotary": "model.net.positional='rotary': choose one of",
    "trainer=tpu": "trainer='tpu': no such option; choose one of auto, cpu, ddp, ddp_cpu, default, gpu",
    "experiment=nope": "experiment='nope': no such option; choose one of bottleneck, captioning, cnn_",
    # digit canvases
    "data=digit_captions": "model.net._target_='attnlab.nn.Seq2Seq': does not take digit canvases with data",
    "model=captioner": "model.net._target_='attnlab.nn.Captioner': takes digit canvases, not attnlab.data",
    "data=digit_captions data.target=sum model=captioner": "model.net._target_='attnlab.nn.Captioner': does",
    f"{CAP} data.target=words": "data.target='words': choose one of caption, sum, count",
    f"{CAP} digits=k5-6 data.slots=4": "data.max_digits=6: must be <= data.slots (4)",
    f"{CAP} data.min_digits=3 data.max_digits=2": "data.min_digits=3: must be <= data.max_digits (2)",
    f"{CAP} data.max_scale=16": "data.max_scale=16: must be <= 12, the side of a row slot",
    f"{CAP} model.net.context=hard": "model.net.context='hard': choose one of attention, fixed",
    f"{CAPT} model.net.d_model=66 model.net.num_heads=2": "model.net.d_model=66: must be divisible by 4",
    f"{CAP} model.attention_reg=-1": "model.attention_reg=-1.0: must be a number >= 0",
    f"{CLS} model.net.positions=true model.net.channels=[8,30]": "model.net.channels[-1]=30: must be",
    f"{CLS} model.net.num_heads=5": "model.net.num_heads=5: must divide model.net.channels[-1] (64)",
    f"{CLS} model.net.num_classes=3": "model.net.num_classes=3: is set from the task's data; leave it out",
    "data=length digits=k1-2": "data='length': no such option",
    "digits=k1-2": "digits='k1-2': sets data.min_digits, which data (attnlab.data.SequenceDataModule)",
    # transfer learning
    f"{LM} model.freeze=all": "model.freeze='all': choose one of none, embeddings, encoder",
    f"{LM} model.freeze=encoder model.body_lr=1e-4": "model.body_lr=0.0001: has no body to act on with model",
    f"{LM} model.body_lr=-1": "model.body_lr=-1.0: must be a number > 0, or null for the optimizer's rate",
    "model=transformer model.freeze=encoder": "model.freeze='encoder': needs a net with a body and a head",
    f"{LM} init=pretrained": "pretrained: init=pretrained starts from it: give a run of experiment=pretrain",
    "data=date_months model=transformer_lm": f"{MOD}Seq2SeqModule': does not fit data.target=month; use",
    "data=date_corpus model=transformer_lm": f"{MOD}Seq2SeqModule': does not fit data.target=text; use model",
    "data=dates model=lm_pretrain": f"{MOD}LanguageModelModule': does not fit data.target=iso; use a",
    "data=dates model=lm_classifier": f"{MOD}TextClassifierModule': does not fit data.target=iso; use a",
    f"{LM} model.init_from=/nowhere/run": "model.init_from='/nowhere/run': no such file or directory",
    "data=dates data.target=weekday": "data.target='weekday': choose one of iso, month, text",
}


@pytest.mark.parametrize("overrides", list(BAD))
def test_bad_input_names_the_key_and_what_is_allowed(overrides):
    with pytest.raises(ConfigError) as error:
        for cfg in check_overrides(overrides.split()):
            check_init_from(cfg)
    assert str(error.value).startswith(BAD[overrides])


@pytest.mark.parametrize("overrides", ["data.maxlen=3"])  # the rest of BAD: in-process, above
def test_bad_input_exits_before_training_with_one_line(overrides, tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *overrides.split(), f"hydra.run.dir={run_dir}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("attnlab: invalid config: "), result.stderr
    assert not run_dir.exists()  # nothing was built, nothing trained


def _sweep_values(spec: dict) -> list:
    if "values" in spec:
        return spec["values"]
    if "value" in spec:
        return [spec["value"]]
    return [spec["min"], spec["max"]]  # a distribution: its ends


@pytest.mark.parametrize("path", ["sweep.yaml", *sorted(p.name for p in (ROOT / "sweeps").glob("*.yaml"))])
def test_every_wandb_sweep_combination_composes(path):
    sweep = yaml.safe_load(((ROOT if path == "sweep.yaml" else ROOT / "sweeps") / path).read_text())
    assert sweep["command"] == ["${env}", "${interpreter}", "${program}", "${args_no_hyphens}"]
    assert sweep["program"] == "train.py" and sweep["metric"]["name"] == "val/exact_match"
    # Every value of every parameter, the others at their first value: what W&B can launch.
    axes = [[f"{key}={value}" for value in _sweep_values(spec)] for key, spec in sweep["parameters"].items()]
    first = [values[0] for values in axes]
    for i, values in enumerate(axes):
        for value in values:
            check_overrides([*first[:i], value, *first[i + 1 :]])
