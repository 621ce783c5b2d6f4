"""Bad command lines about files and directories: each stops before training with one line and
exit code 2. (Bad config values are in test_config.py's BAD table.)"""

from __future__ import annotations

import sys

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf

from attnlab import train
from attnlab.config import CONF_DIR
from helpers import TINY


@pytest.fixture
def run_dir(tmp_path):
    """A run directory as train.py leaves it: its overrides and a last.ckpt of its model."""
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    OmegaConf.save(OmegaConf.create(TINY), run / ".hydra" / "overrides.yaml")
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", TINY)
    model = instantiate(cfg.model, net=instantiate(cfg.data).net_args)
    torch.save({"state_dict": model.state_dict(), "global_step": 6}, run / "checkpoints" / "last.ckpt")
    return run


def _main(monkeypatch, capsys, *args: str) -> str:
    monkeypatch.setattr(sys, "argv", ["train.py", *args])
    with pytest.raises(SystemExit) as stop:
        train.main()
    assert stop.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("attnlab: invalid config: ")
    return line.removeprefix("attnlab: invalid config: ")


def test_resume_from_a_directory_that_does_not_exist(monkeypatch, capsys, tmp_path):
    line = _main(monkeypatch, capsys, f"resume={tmp_path / 'nope'}")
    assert line.endswith("not a run directory (it has no .hydra/overrides.yaml)")


def test_resume_from_a_run_without_a_checkpoint(monkeypatch, capsys, run_dir):
    (run_dir / "checkpoints" / "last.ckpt").unlink()
    assert _main(monkeypatch, capsys, f"resume={run_dir}").endswith(
        "has no checkpoints/last.ckpt to resume from"
    )


def test_resume_from_a_corrupt_checkpoint(monkeypatch, capsys, run_dir):
    last = run_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])  # cut short, as by a full disk
    assert "checkpoints/last.ckpt is not a readable checkpoint (" in _main(
        monkeypatch, capsys, f"resume={run_dir}"
    )


def test_resume_with_a_checkpoint_of_another_model(monkeypatch, capsys, run_dir):
    line = _main(monkeypatch, capsys, f"resume={run_dir}", "model.net.hidden_size=64")
    assert "checkpoints/last.ckpt holds another model than attnlab.nn.Seq2Seq as configured" in line


def test_resume_inside_a_multirun(monkeypatch, capsys, run_dir):
    assert (
        _main(monkeypatch, capsys, "-m", f"resume={run_dir}")
        == "resume: continues one run; drop -m/--multirun"
    )


@pytest.mark.parametrize("key", ["hydra.run.dir", "hydra.sweep.dir"])
def test_an_output_directory_that_cannot_be_created(monkeypatch, capsys, tmp_path, key):
    (tmp_path / "file").write_text("")
    line = _main(monkeypatch, capsys, f"{key}={tmp_path / 'file' / 'run'}")
    assert line.endswith(f"cannot create the output directory: {tmp_path / 'file'} is not a directory")


@pytest.mark.parametrize(("key", "job"), [("hydra.run.dir", ""), ("hydra.sweep.dir", "3")])
def test_a_directory_with_an_earlier_runs_checkpoints(monkeypatch, capsys, tmp_path, key, job):
    """Lightning's fit would restore them (an on-exception checkpoint makes ckpt_path=None mean
    "last"): a new run would carry on from the old one and write over it."""
    (tmp_path / job / "checkpoints").mkdir(parents=True)
    (tmp_path / job / "checkpoints" / "last.ckpt").write_bytes(b"")
    line = _main(monkeypatch, capsys, *(["-m"] if job else []), f"{key}={tmp_path}")
    assert (
        line
        == f"{key}='{tmp_path}': already holds the checkpoints of an earlier run; give a new directory"
        + (", or resume=DIR" if not job else "")
    )
