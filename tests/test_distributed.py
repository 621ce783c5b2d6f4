"""DDP on CPU (2 processes over gloo), alone and inside a Hydra multirun: the GPU code path with
another accelerator."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import TINY, train_py

# Copying 3..6 symbols with lr 5e-3: learned in 200 steps of 64 sequences.
LEARNS = [
    "data=copy",
    "trainer.max_steps=200",
    "trainer.val_check_interval=100",
    "data.train_size=4096",
    "data.val_size=256",
    "data.test_size=128",
    "data.max_len=6",
    "data.test_lengths=[4,6]",
    "model.net.hidden_size=64",
    "model.net.embed_dim=16",
    "model.optimizer.lr=0.005",
    "~callbacks.progress_bar",
]


@pytest.mark.slow  # about a minute: make test-all runs it
def test_ddp_on_two_processes_matches_one_process_with_the_same_global_batch(tmp_path):
    """data.batch_size is per process: 2 x 32 under DDP against 64 in one process. The batches
    differ, so the runs differ in detail; both must learn the task and land within 0.02 token
    accuracy and 0.05 exact match of each other."""
    runs = {"ddp": ["trainer=ddp_cpu", "data.batch_size=32"], "one": ["trainer=cpu", "data.batch_size=64"]}
    metrics, epochs = {}, {}
    for name, args in runs.items():
        run_dir = tmp_path / name
        result = train_py(*LEARNS, *args, f"hydra.run.dir={run_dir}", timeout=400)
        assert result.returncode == 0, result.stderr[-3000:]
        metrics[name] = json.loads((run_dir / "metrics.json").read_text())
        epochs[name] = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
        assert len(list((run_dir / "wandb").glob("offline-run-*"))) == 1  # rank 0 logs, alone
        assert ("MEMBER: 2/2" in result.stderr) == (name == "ddp")

    ddp, one = metrics["ddp"], metrics["one"]
    assert ddp["test/token_accuracy"] > 0.95 and one["test/token_accuracy"] > 0.95
    assert abs(ddp["test/token_accuracy"] - one["test/token_accuracy"]) <= 0.02
    assert abs(ddp["test/exact_match"] - one["test/exact_match"]) <= 0.05
    # Each rank saw half of every epoch: as many epochs in 200 steps as with one process.
    assert epochs["ddp"] == epochs["one"] == 200 * 64 // 4096


def test_a_multirun_of_ddp_jobs_runs_each_job_once_in_its_own_directory(tmp_path):
    """The failure this guards against: each extra rank re-running the whole sweep (Lightning
    re-executes the command line), writing to Hydra's run dir, or the second job waiting forever
    for ranks of the first."""
    result = train_py(
        "-m",
        "trainer=ddp_cpu",
        "model=seq2seq_fixed,seq2seq_attention",
        *TINY,
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep"]  # no outputs/, no multirun/
    sweep = tmp_path / "sweep"
    assert sorted(p.name for p in sweep.iterdir()) == ["0", "1", "multirun.yaml"]
    for job, model in enumerate(("seq2seq_fixed", "seq2seq_attention")):
        job_dir = sweep / str(job)
        metrics = json.loads((job_dir / "metrics.json").read_text())
        assert f"model={model}" in metrics["overrides"]
        assert len(list((job_dir / "wandb").glob("offline-run-*"))) == 1
        assert (job_dir / "train_rank1.log").is_file()  # rank 1 ran this job, here
    assert result.stderr.count("MEMBER: 2/2") == 2  # two jobs, each with its second rank
    assert result.stdout.count("Launching 2 jobs locally") == 1  # the sweep started once
