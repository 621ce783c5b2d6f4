"""Continue a run where it stopped: ``python train.py resume=<run dir>``.

The run's own overrides (from its ``.hydra/overrides.yaml``) are replayed in its directory, the
trainer restarts from its ``checkpoints/last.ckpt`` (model, optimizer, scheduler, loops, data
position and random state), and the W&B logger continues the same run id. Overrides given next
to ``resume=`` win over the saved ones (``trainer.max_steps=3000`` trains longer).
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from attnlab.checkpoint import read_checkpoint
from attnlab.checks import ConfigError

LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def expand_resume(overrides: list[str]) -> list[str]:
    """The overrides that re-create the run named by ``resume=DIR``; unchanged without it."""
    given = [o.split("=", 1)[1] for o in overrides if _key(o) == "resume"]
    if not given or given[-1] in ("", "null"):
        return overrides
    run_dir = Path(given[-1]).expanduser().resolve()
    saved = run_dir / ".hydra" / "overrides.yaml"
    if not saved.is_file():
        raise ConfigError("resume", given[-1], "not a run directory (it has no .hydra/overrides.yaml)")
    if not (run_dir / LAST_CHECKPOINT).is_file():
        raise ConfigError("resume", given[-1], f"has no {LAST_CHECKPOINT} to resume from")
    merged: dict[str, str] = {}
    for override in [*OmegaConf.load(saved), *overrides]:  # the command line wins
        merged[_key(override)] = override
    merged["resume"] = f"resume={run_dir}"
    merged.setdefault("hydra.run.dir", f"hydra.run.dir='{run_dir}'")
    return list(merged.values())


def wandb_run_id(run_dir: Path) -> str | None:
    """The id of the newest W&B run under ``run_dir/wandb`` (online or offline), if any."""
    runs = sorted((run_dir / "wandb").glob("*run-*-*"), key=lambda p: p.stat().st_mtime)
    runs = [p for p in runs if p.is_dir() and not p.is_symlink()]
    return runs[-1].name.rsplit("-", 1)[1] if runs else None


def check_checkpoint(cfg: DictConfig) -> None:
    """Before training: ``resume``'s last.ckpt must load, and hold the weights of the model that
    this config builds (same parameter names and shapes)."""
    weights = read_checkpoint(Path(cfg.resume, LAST_CHECKPOINT), "resume", cfg.resume)["state_dict"]
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model, net=datamodule.net_args)
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in weights.items()}
    if found != expected:
        differ = sorted(set(found) ^ set(expected)) or [n for n in expected if found[n] != expected[n]]
        raise ConfigError(
            "resume",
            cfg.resume,
            f"{LAST_CHECKPOINT} holds another model than {cfg.model.net._target_} as configured "
            f"({len(differ)} parameters differ, e.g. {differ[0]})",
        )
