"""Hydra's launchers and sweepers: joblib runs jobs side by side, Optuna optimizes what train.py
returns, submitit turns cluster=slurm into the SLURM job that multi-node DDP needs."""

from __future__ import annotations

import json

import submitit
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate

from attnlab.config import CONF_DIR
from helpers import TINY, train_py


def test_a_joblib_multirun_leaves_one_directory_metrics_and_wandb_run_per_job(tmp_path):
    stamp = "2026-01-02_03-04-05"
    result = train_py(
        "-m",
        "hydra/launcher=joblib",
        "model=seq2seq_fixed,seq2seq_attention",
        *TINY,
        f"hydra.sweep.dir=sweep/{stamp}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = tmp_path / "sweep" / stamp
    assert sorted(p.name for p in sweep.iterdir()) == ["0", "1", "multirun.yaml"]
    for job, model in enumerate(("seq2seq_fixed", "seq2seq_attention")):
        metrics = json.loads((sweep / str(job) / "metrics.json").read_text())
        assert f"model={model}" in metrics["overrides"]
        (run,) = (sweep / str(job) / "wandb").glob("offline-run-*/run-*.wandb")
        # Both runs carry the sweep's group and their own name (W&B's run file is binary).
        assert f"default-{stamp}".encode() in run.read_bytes()
        assert f"model={model}".encode() in run.read_bytes()


def test_optuna_maximizes_the_metric_that_train_returns(tmp_path):
    result = train_py(
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.n_startup_trials=2",
        *[o for o in TINY if not o.startswith("model.net.hidden_size")],
        "logger=none",
        "hydra.sweep.dir=study",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    study = tmp_path / "study"
    trials = [json.loads((study / str(i) / "metrics.json").read_text()) for i in range(3)]
    best = yaml.safe_load((study / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(t["val/exact_match"] for t in trials)
    assert set(best["best_params"]) == {"model.optimizer.lr", "model.net.hidden_size"}


def test_cluster_slurm_submits_one_task_per_gpu_on_every_node(tmp_path, monkeypatch):
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            [
                "cluster=slurm",
                "trainer.num_nodes=2",
                "hydra.launcher.partition=gpu",
                f"hydra.sweep.dir={tmp_path}",
            ],
            return_hydra_config=True,
        )
    assert cfg.trainer.strategy._target_ == "attnlab.distributed.DDPStrategy"
    submitted = {}

    def map_array(executor, fn, *args):  # stands in for sbatch: keep the job script
        submitted["script"] = executor._executor._make_submission_file_text("python train.py", "0")
        return []

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", map_array)
    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # no srun here
    launcher = instantiate(cfg.hydra.launcher)
    launcher.config = cfg  # what Hydra's setup() stores
    launcher.launch([["model=seq2seq_attention"]], initial_job_idx=0)

    script = submitted["script"]
    for line in (
        "--job-name=attnlab-default",
        "--nodes=2",
        "--ntasks-per-node=4",
        "--gpus-per-node=4",
        "--partition=gpu",
        "--time=240",
    ):
        assert f"#SBATCH {line}\n" in script, script
