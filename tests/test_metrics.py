"""Metrics against hand-computed values."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassExactMatch

from attnlab.data import EOS, PAD
from attnlab.metrics import ExactMatchByLength

# Three sequences (digits are tokens 3..12); PAD after EOS is not scored.
TARGET = torch.tensor([[3, 4, EOS, PAD], [5, 6, 7, EOS], [8, EOS, PAD, PAD]])
PREDS = torch.tensor([[3, 4, EOS, 9], [5, 6, 8, EOS], [8, EOS, 4, 4]])
LENGTHS = torch.tensor([2, 3, 1])


def test_exact_match_ignores_padding_positions():
    metric = MulticlassExactMatch(num_classes=14, ignore_index=PAD)
    torch.testing.assert_close(metric(PREDS, TARGET), torch.tensor(2 / 3))  # second: a wrong token


def test_a_missing_or_early_eos_is_not_an_exact_match():
    metric = MulticlassExactMatch(num_classes=14, ignore_index=PAD)
    no_eos = torch.tensor([[3, 4, 5, 5]])  # right digits, but goes on instead of stopping
    early = torch.tensor([[3, EOS, 4, EOS]])
    assert metric(no_eos, TARGET[:1]).item() == 0
    assert metric(early, TARGET[:1]).item() == 0


def test_token_accuracy_counts_non_padding_tokens():
    metric = MulticlassAccuracy(num_classes=14, average="micro", ignore_index=PAD)
    torch.testing.assert_close(metric(PREDS, TARGET), torch.tensor(8 / 9))


def test_exact_match_by_length():
    metric = ExactMatchByLength(max_length=5)
    metric.update(PREDS, TARGET, LENGTHS)
    metric.update(TARGET[1:2], TARGET[1:2], torch.tensor([3]))  # a correct length-3 example
    result = {n: v.item() for n, v in metric.compute().items()}
    assert result == {1: 1.0, 2: 1.0, 3: 0.5}
    with pytest.raises(ValueError, match="exceeds 5"):
        metric.update(PREDS, TARGET, torch.tensor([2, 6, 1]))
