"""Entry point: compose the config, instantiate everything from it, fit, test, write metrics.

python train.py                          # the default experiment
python train.py -m experiment=bottleneck # a Hydra multirun
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra._internal.utils import get_args_parser
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, WandbLogger
from omegaconf import DictConfig, OmegaConf

from attnlab.callbacks import FiniteLoss
from attnlab.checks import ConfigError
from attnlab.config import CONF_DIR, validate
from attnlab.distributed import job_environment
from attnlab.overrides import check_overrides
from attnlab.resume import LAST_CHECKPOINT, check_checkpoint, expand_resume, wandb_run_id
from attnlab.transfer import check_init_from, load_pretrained


def _flat(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as one flat dict with dotted keys (W&B's run table wants it flat)."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return flat


def _run_identity(experiment_name: str) -> dict[str, Any]:
    """Group, name and tags for the dashboard. The group gathers one sweep's runs: the
    experiment's name and the W&B sweep id or the multirun's timestamp."""
    hydra_cfg = HydraConfig.get()
    group = experiment_name
    if sweep_id := os.environ.get("WANDB_SWEEP_ID"):
        group = f"{experiment_name}-sweep-{sweep_id}"
    elif hydra_cfg.mode == RunMode.MULTIRUN:
        group = f"{experiment_name}-{Path(hydra_cfg.sweep.dir).name}"
    choices = hydra_cfg.runtime.choices
    overrides = [o for o in hydra_cfg.overrides.task if not o.startswith("experiment=")]
    groups = ("model", "data", "length")
    tags = [f"{group}={choices[group]}" for group in groups if choices.get(group)]
    tags += [o for o in overrides if o.split("=", 1)[0] not in groups]  # swept values too
    name = ",".join(overrides) or choices.get("model")
    return {"group": group, "name": name, "tags": [t[:64] for t in tags]}


def build_loggers(cfg: DictConfig) -> list[Logger]:
    loggers = []
    for logger_cfg in (cfg.get("logger") or {}).values():
        extra = {}
        if logger_cfg._target_.endswith("WandbLogger"):
            identity = _run_identity(cfg.experiment_name)
            extra = {k: v for k, v in identity.items() if logger_cfg.get(k) is None}
            if cfg.resume and (run_id := wandb_run_id(Path(cfg.resume))):
                extra.update(id=run_id, resume="allow")  # the same run in the dashboard
        loggers.append(instantiate(logger_cfg, **extra))
    return loggers


def build_trainer(cfg: DictConfig, **kwargs: Any) -> L.Trainer:
    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer_cfg.pop("skip_nonfinite", None)  # attnlab's key, read by the FiniteLoss callback
    return instantiate(trainer_cfg, **kwargs)


def write_metrics(path: Path, metrics: dict[str, float]) -> None:
    record = dict(metrics, overrides=list(HydraConfig.get().overrides.task))
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def _share_cores_between_parallel_jobs() -> None:
    """hydra/launcher=joblib runs n_jobs trainings at once: give each its share of the cores, as
    torch's default (every core in every job) oversubscribes them and slows all jobs down."""
    launcher = HydraConfig.get().launcher
    if "joblib" not in str(launcher.get("_target_", "")):
        return
    cores = os.cpu_count() or 1
    n_jobs = launcher.n_jobs if launcher.n_jobs > 0 else cores + 1 + launcher.n_jobs  # joblib's -1
    torch.set_num_threads(max(1, cores // max(1, n_jobs)))


_PATH_KEYS = ("dirpath", "save_dir", "default_root_dir")


def anchor_paths(cfg: DictConfig) -> None:
    """Relative output paths in the config (``callbacks.model_checkpoint.dirpath=ckpts``) are
    taken inside the run directory, never the directory the command was started from."""
    run_dir = Path(cfg.paths.output_dir)
    for section in ("callbacks", "logger", "trainer"):
        nodes = [cfg[section]] if section == "trainer" else list((cfg.get(section) or {}).values())
        for node in nodes:
            for key in _PATH_KEYS:
                if node is not None and isinstance(node.get(key), str) and not Path(node[key]).is_absolute():
                    node[key] = str(run_dir / node[key])


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit and test the configured model; returns the final test metrics and the best value of
    the monitored validation metric."""
    anchor_paths(cfg)
    _share_cores_between_parallel_jobs()
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model, net=datamodule.net_args)
    if cfg.model.get("init_from") and not cfg.resume:  # a resumed run has its own weights
        load_pretrained(model, cfg.model.init_from, list(datamodule.vocab))
    if cfg.optimized_metric is None:  # the checkpoint callback monitors ${optimized_metric}
        cfg.optimized_metric = model.monitor
    loggers = build_loggers(cfg)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    trainer = build_trainer(cfg, logger=loggers or False, callbacks=callbacks)
    for logger in loggers:
        logger.log_hyperparams(_flat(cfg))

    try:
        metrics = _fit_and_test(cfg, trainer, model, datamodule)
    except BaseException:  # errors, Ctrl-C: close the W&B run now, marked failed
        _finish_wandb(loggers, trainer, exit_code=1)
        raise
    if trainer.is_global_zero:
        write_metrics(Path(cfg.paths.output_dir) / "metrics.json", metrics)
    _finish_wandb(loggers, trainer, summary=metrics)  # one W&B run per job, also in a multirun
    return metrics


def _fit_and_test(cfg: DictConfig, trainer: L.Trainer, model: L.LightningModule, datamodule) -> dict:
    started = time.perf_counter()
    resume_from = Path(cfg.resume, LAST_CHECKPOINT) if cfg.resume else None
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    fit_seconds = time.perf_counter() - started  # wall clock, for comparisons such as RMSNorm's
    best = trainer.checkpoint_callback
    # test() clears callback_metrics: keep the last validation's values (val/loss, the in-range
    # analogue of the papers' perplexity) and the best value of the monitored metric now.
    monitored = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    if best is not None and best.best_model_score is not None:
        monitored[best.monitor] = float(best.best_model_score)
    trainer.test(
        model,
        datamodule=datamodule,
        ckpt_path=best.best_model_path if best and best.best_model_path else None,
        weights_only=True,
    )
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    if (finite := next((c for c in trainer.callbacks if isinstance(c, FiniteLoss)), None)) and finite.skip:
        metrics["train/skipped_nonfinite"] = finite.skipped
    return {**metrics, **monitored, "time/fit_seconds": fit_seconds}


def _finish_wandb(
    loggers: list[Logger], trainer: L.Trainer, summary: dict | None = None, exit_code: int = 0
) -> None:
    for logger in loggers:
        if isinstance(logger, WandbLogger) and trainer.is_global_zero:
            if summary:
                logger.experiment.summary.update(summary)
            logger.experiment.finish(exit_code=exit_code)


def _error_line(error: BaseException, run_dir: str) -> str:
    """One line for error.txt and the report: the innermost cause and its first line."""
    if isinstance(error, (KeyboardInterrupt, SystemExit)):  # Lightning turns Ctrl-C into exit(1)
        return f"Interrupted: stopped by a signal; continue with: python train.py resume={run_dir}"
    root = error
    while root.__cause__ is not None:  # e.g. Hydra's InstantiationException wraps the real one
        root = root.__cause__
    return f"{type(root).__name__}: {(str(root).strip().splitlines() or [''])[0]}"


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float | None:
    validate(cfg)
    try:
        with job_environment():  # the next job of a sweep starts from a clean process
            metrics = train(cfg)
    except (Exception, KeyboardInterrupt, SystemExit) as error:  # the report lists the job as failed
        Path(cfg.paths.output_dir, "error.txt").write_text(_error_line(error, cfg.paths.output_dir) + "\n")
        raise
    return metrics.get(cfg.optimized_metric)


def main() -> None:
    """Check the command line's overrides first, so a bad value costs one line, not a traceback."""
    args = get_args_parser().parse_args(sys.argv[1:])
    if not (args.help or args.hydra_help or args.info or args.cfg or args.shell_completion):
        try:
            overrides = expand_resume(args.overrides)
            if overrides != args.overrides:
                if args.multirun:
                    raise ConfigError("resume", None, "continues one run; drop -m/--multirun")
                flags = [a for a in sys.argv[1:] if a not in args.overrides]
                sys.argv = [sys.argv[0], *flags, *overrides]
            configs = check_overrides(overrides)
            if overrides != args.overrides:
                check_checkpoint(configs[0])
            for cfg in configs:
                check_init_from(cfg)
        except ConfigError as error:
            print(f"attnlab: invalid config: {error}", file=sys.stderr)
            sys.exit(2)
    _hydra_main()


if __name__ == "__main__":
    main()
