"""No network by default; online W&B without a server fails fast and says what to do; no secret
is ever written to a run's files, and a run's files stay in its directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from helpers import ROOT, TINY

OFFLINE_HINT = "train offline instead (leave WANDB_MODE unset)"


def _online(tmp_path, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *TINY, f"hydra.run.dir={tmp_path / 'run'}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            **{k: v for k, v in os.environ.items() if k != "WANDB_API_KEY"},
            "HOME": str(tmp_path),  # no ~/.netrc either
            "WANDB_MODE": "online",
            **env,
        },
    )
    return result, time.monotonic() - started


def test_online_without_an_api_key_fails_in_seconds_and_suggests_offline(tmp_path):
    result, seconds = _online(tmp_path, WANDB_BASE_URL="http://127.0.0.1:9")
    assert result.returncode == 2 and seconds < 30
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        "attnlab: invalid config: logger.wandb.offline=False: no W&B API key for 127.0.0.1"
    )
    assert OFFLINE_HINT in line and "wandb sync" in line
    assert not (tmp_path / "run").exists()


def test_online_with_an_unreachable_server_fails_in_seconds_and_suggests_offline(tmp_path):
    result, seconds = _online(tmp_path, WANDB_API_KEY="k" * 40, WANDB_BASE_URL="http://127.0.0.1:9")
    assert result.returncode == 2 and seconds < 30
    (line,) = result.stderr.strip().splitlines()
    assert "the W&B server http://127.0.0.1:9 is unreachable" in line and OFFLINE_HINT in line


NETWORK_NAMESPACE = (
    shutil.which("unshare") is not None
    and subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0
)


def test_the_default_run_needs_no_network_keeps_the_api_key_out_and_its_files_in_the_run(tmp_path):
    """One run for three promises: no network needed (``unshare -n`` takes it away where the
    machine allows), no trace of WANDB_API_KEY in any file, relative paths inside the run."""
    secret = "0123456789abcdef" * 2 + "a1b2c3d4"  # 40 characters, like a W&B key
    run_dir, cwd = tmp_path / "run", tmp_path / "cwd"
    cwd.mkdir()
    relative = ["callbacks.model_checkpoint.dirpath=ckpts", "logger.wandb.save_dir=dashboard"]
    command = [sys.executable, str(ROOT / "train.py"), *TINY, *relative, f"hydra.run.dir={run_dir}"]
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}  # the default, not the tests'
    env.update(WANDB_API_KEY=secret, OMP_NUM_THREADS="1")
    isolate = ["unshare", "-n"] if NETWORK_NAMESPACE else []
    result = subprocess.run(
        [*isolate, *command], capture_output=True, text=True, timeout=300, check=False, env=env, cwd=cwd
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((run_dir / "metrics.json").read_text())["test/exact_match"] >= 0
    assert list(cwd.iterdir()) == []  # nothing lands where the command was started
    assert list((run_dir / "ckpts").glob("best-step*.ckpt"))
    assert list((run_dir / "dashboard" / "wandb").glob("offline-run-*"))
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert len(files) > 10  # checkpoints, plots, logs, the W&B run and its config
    assert not [p for p in files if secret.encode() in p.read_bytes()]
    assert secret not in result.stdout + result.stderr
    if not NETWORK_NAMESPACE:
        pytest.skip("ran with the network (no unshare -n here): the no-network promise is untested")
