"""Learning-rate schedules, composed from torch.optim.lr_scheduler's own pieces."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR


def warmup_cosine(
    optimizer: Optimizer, warmup_steps: int, total_steps: int, final_ratio: float = 0.1
) -> LRScheduler:
    """Linear warmup from ~0 to the base rate over ``warmup_steps``, then cosine decay to
    ``final_ratio`` x the base rate at ``total_steps`` (what Post-LN Transformers need to train).
    ``warmup_steps=0`` gives the decay alone, the control that separates warmup from decay."""
    base = optimizer.param_groups[0]["lr"]  # before LinearLR scales it down for step 0
    if warmup_steps == 0:
        return CosineAnnealingLR(optimizer, T_max=max(1, total_steps), eta_min=base * final_ratio)
    warmup = LinearLR(optimizer, start_factor=1e-3, end_factor=1.0, total_iters=warmup_steps)
    decay = CosineAnnealingLR(optimizer, T_max=max(1, total_steps - warmup_steps), eta_min=base * final_ratio)
    return SequentialLR(optimizer, [warmup, decay], milestones=[warmup_steps])
