"""Learning-rate schedules against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from attnlab.models.schedules import warmup_cosine


def test_warmup_then_cosine_decay():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = warmup_cosine(optimizer, warmup_steps=10, total_steps=110, final_ratio=0.1)
    rates = []
    for _ in range(110):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == pytest.approx(1e-3)
    assert rates[5] == pytest.approx(1e-3 + (1 - 1e-3) * 5 / 10)  # linear warmup
    assert rates[10] == pytest.approx(1.0)  # the peak, where the decay starts
    assert rates[60] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * 50 / 100)) / 2)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:], strict=False))


def test_decay_alone_starts_at_the_base_rate():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = warmup_cosine(optimizer, warmup_steps=0, total_steps=100, final_ratio=0.1)
    rates = []
    for _ in range(101):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == pytest.approx(1.0)
    assert rates[50] == pytest.approx(0.55)
    assert rates[100] == pytest.approx(0.1)
