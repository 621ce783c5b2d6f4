"""DDP that also works inside a Hydra multirun.

Lightning starts ranks 1..N-1 of a DDP job by running the script again with the same command
line. Inside `python train.py -m a=1,2` that command line is the whole sweep: each extra rank
would start the sweep again, in Hydra's `run.dir` rather than the job's directory. The strategy
here starts each extra rank as a single Hydra run of the current job instead: the job's own
overrides, its own directory, no `-m`. Outside Hydra it behaves exactly like Lightning's.

`job_environment()` undoes what the launcher did to the process once a job ends (the process
group, `LOCAL_RANK`, `MASTER_PORT`, ...), so the next job of a sweep starts its own ranks
instead of waiting for ranks that already left.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_original_cwd
from lightning.pytorch.strategies import DDPStrategy as _LightningDDP
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher

# What Lightning's launcher sets in the launching process.
_LAUNCHER_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


def job_command(local_rank: int) -> list[str]:
    """The command that runs the current Hydra job (not its sweep) as `local_rank`, in the job's
    own output directory; `.hydra/` is left to rank 0."""
    hydra_cfg = HydraConfig.get()
    import __main__

    if __main__.__spec__ is None:  # python train.py, or the attnlab-train script
        command = [sys.executable, os.path.join(get_original_cwd(), sys.argv[0])]
    else:  # python -m attnlab.train
        command = [sys.executable, "-m", __main__.__spec__.name]
    return command + [
        *hydra_cfg.overrides.task,
        f"hydra.run.dir='{hydra_cfg.runtime.output_dir}'",
        "hydra.output_subdir=null",
        "hydra.mode=RUN",  # even when the job came from a sweeper that sets MULTIRUN
        f"hydra.job.name={hydra_cfg.job.name}_rank{local_rank}",
    ]


class _JobLauncher(_SubprocessScriptLauncher):
    """Lightning's launcher, with children that run this Hydra job rather than the command line."""

    def _call_children_scripts(self) -> None:
        if not HydraConfig.initialized():
            return super()._call_children_scripts()
        self._check_can_spawn_children()
        env = self.cluster_environment
        os.environ.update(
            MASTER_ADDR=env.main_address,
            MASTER_PORT=str(env.main_port),
            NODE_RANK=str(env.node_rank()),
            LOCAL_RANK=str(env.local_rank()),
            WORLD_SIZE=str(self.num_processes * self.num_nodes),
        )
        for local_rank in range(1, self.num_processes):
            child_env = {**os.environ, "LOCAL_RANK": str(local_rank)}
            self.procs.append(
                subprocess.Popen(job_command(local_rank), env=child_env, cwd=get_original_cwd())
            )


class DDPStrategy(_LightningDDP):
    """`lightning.pytorch.strategies.DDPStrategy` whose extra ranks run the current Hydra job."""

    def _configure_launcher(self) -> None:
        super()._configure_launcher()
        if isinstance(self._launcher, _SubprocessScriptLauncher):
            self._launcher = _JobLauncher(self.cluster_environment, self.num_processes, self.num_nodes)


@contextmanager
def job_environment() -> Iterator[None]:
    """Run one job; afterwards leave no process group and no launcher variables behind."""
    saved = {name: os.environ.get(name) for name in _LAUNCHER_VARIABLES}
    try:
        yield
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
