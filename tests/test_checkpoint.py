"""Checkpoints are written whole or not at all."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from attnlab.checkpoint import AtomicCheckpointIO
from attnlab.config import CONF_DIR
from attnlab.train import build_trainer


def test_a_write_that_dies_halfway_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    io, path = AtomicCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"step": 1, "w": torch.ones(1000)}, path)

    real_save = torch.save

    def dies_halfway(obj, file, *args, **kwargs):
        real_save(obj, file, *args, **kwargs)
        file.truncate(100)  # part of the bytes are out...
        raise KeyboardInterrupt  # ...when the process is stopped

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2, "w": torch.zeros(1000)}, path)
    monkeypatch.undo()

    assert torch.load(path, weights_only=True)["step"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no staging file left behind
    io.save_checkpoint({"step": 3, "w": torch.zeros(1000)}, path)
    assert torch.load(path, weights_only=True)["step"] == 3


def test_every_trainer_writes_its_checkpoints_atomically(tmp_path):
    GlobalHydra.instance().clear()
    for trainer in ("auto", "cpu", "ddp_cpu"):
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", [f"trainer={trainer}", f"paths.output_dir={tmp_path}"])
        built = build_trainer(cfg, logger=False, callbacks=[])
        assert isinstance(built.strategy.checkpoint_io, AtomicCheckpointIO), trainer
