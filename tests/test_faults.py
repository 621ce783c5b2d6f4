"""Faults a long sweep meets: a killed process, Ctrl-C, a NaN loss, a job that fails among others.
Nothing is lost and every failure says what happened."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import torch

from attnlab.report import load_jobs
from helpers import ROOT, TINY, train_py

# A run long enough to be stopped in the middle: 40 steps, a checkpoint every 5.
LONG = [o for o in TINY if not o.startswith("trainer.")] + [
    "trainer.max_steps=40",
    "trainer.val_check_interval=5",
]


def _start(run_dir, *args: str) -> subprocess.Popen:
    """train.py in its own process group, like a command typed in a terminal."""
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(ROOT / "train.py"), *LONG, *args, f"hydra.run.dir={run_dir}"]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _wait_for_checkpoint(run_dir, process, step: int) -> None:
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        # last.ckpt is replaced by a rename, so a read sees a whole checkpoint
        if last.exists() and torch.load(last, weights_only=True)["global_step"] >= step:
            return
        time.sleep(0.1)
    raise AssertionError(f"no checkpoint at step {step}: {process.stderr.read()[-2000:]}")


def test_a_run_killed_at_a_random_point_resumes_to_the_same_weights_and_wandb_run(tmp_path):
    """Also the determinism test: two processes with the same seed end bit for bit equal."""
    killed, uninterrupted = tmp_path / "killed", tmp_path / "uninterrupted"
    process = _start(killed)
    _wait_for_checkpoint(killed, process, step=10)
    time.sleep(random.uniform(0, 0.5))  # anywhere in the steps that follow, mid-write included
    process.kill()  # SIGKILL: no handler runs
    process.wait()
    assert not (killed / "metrics.json").exists()  # it really died before the end

    result = train_py(f"resume={killed}")
    assert result.returncode == 0, result.stderr[-3000:]
    result = train_py(*LONG, f"hydra.run.dir={uninterrupted}")
    assert result.returncode == 0, result.stderr[-3000:]

    a = torch.load(killed / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(uninterrupted / "checkpoints" / "last.ckpt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 40
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in b["state_dict"])
    final = [json.loads((d / "metrics.json").read_text()) for d in (killed, uninterrupted)]
    assert final[0]["test/exact_match"] == final[1]["test/exact_match"]
    assert final[0]["test/loss"] == final[1]["test/loss"]
    # The resumed run continues the killed one's W&B run: two offline segments, one run id.
    segments = list((killed / "wandb").glob("offline-run-*"))
    assert len(segments) == 2 and len({p.name.rsplit("-", 1)[1] for p in segments}) == 1


def test_ctrl_c_saves_a_checkpoint_says_how_to_resume_and_closes_the_wandb_run(tmp_path):
    process = _start(tmp_path, "trainer.max_steps=100000")
    _wait_for_checkpoint(tmp_path, process, step=5)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole group, W&B's service process too
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "Detected KeyboardInterrupt, attempting graceful shutdown" in stderr
    assert torch.load(tmp_path / "checkpoints" / "on_exception.ckpt", weights_only=True)["global_step"] >= 5
    error = (tmp_path / "error.txt").read_text().strip()
    assert error == f"Interrupted: stopped by a signal; continue with: python train.py resume={tmp_path}"
    (log,) = (tmp_path / "wandb").glob("offline-run-*/logs/debug.log")
    assert "finishing run" in log.read_text() and "got exitcode: 1" in log.read_text()  # closed, failed


def test_a_nan_loss_stops_the_run_with_its_step_and_the_last_finite_loss(tmp_path):
    # Adam with lr 1e30 blows the weights up on the first step: the second loss is NaN.
    result = train_py(*TINY, "logger=none", "model.optimizer.lr=1e30", f"hydra.run.dir={tmp_path}")
    assert result.returncode != 0
    error = (tmp_path / "error.txt").read_text().strip()
    assert error.startswith("FloatingPointError: training loss is nan at step 1; the last finite loss was ")
    assert error.endswith(
        "at step 0. Lower model.optimizer.lr, or set trainer.skip_nonfinite=true to skip such steps"
    )
    assert (tmp_path / "checkpoints" / "on_exception.ckpt").is_file()
    assert not (tmp_path / "metrics.json").exists()


def test_skip_nonfinite_skips_and_counts_the_bad_steps(tmp_path):
    args = [*TINY, "logger=none", "model.optimizer.lr=1e30", "trainer.skip_nonfinite=true"]
    result = train_py(*args, f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    skipped = json.loads((tmp_path / "metrics.json").read_text())["train/skipped_nonfinite"]
    assert 1 <= skipped < 12


def test_a_failing_job_does_not_stop_the_others_and_the_report_says_why(tmp_path):
    if torch.cuda.is_available():
        return  # trainer=gpu would not fail here
    result = train_py("-m", "trainer=gpu,cpu", *TINY, "logger=none", "hydra.sweep.dir=sweep", cwd=tmp_path)
    assert result.returncode != 0  # the sweep reports its failure...
    jobs = {job.name: job for job in load_jobs(tmp_path / "sweep")}
    assert jobs["1"].ok and jobs["1"].metrics["test/exact_match"] >= 0  # ...after running the next job
    assert not jobs["0"].ok
    assert jobs["0"].error == "MisconfigurationException: No supported gpu backend found!"
    error = (tmp_path / "sweep" / "0" / "error.txt").read_text()
    assert error == jobs["0"].error + "\n"  # one line, the innermost cause
    assert not (tmp_path / "sweep" / "0" / "metrics.json").exists()
