"""Generated tasks: correct targets, seeded determinism, lengths and padding."""

from __future__ import annotations

import pytest
import torch

from attnlab.data import EOS, PAD, SequenceDataModule, generate
from attnlab.data.tasks import decode


def _strings(examples, i: int) -> tuple[str, str]:
    return "".join(decode(examples.src[i])), "".join(decode(examples.tgt[i]))


@pytest.mark.parametrize(
    ("task", "check"),
    [
        ("copy", lambda s, t: t == s),
        ("reverse", lambda s, t: t == s[::-1]),
        ("sort", lambda s, t: t == "".join(sorted(s))),
        ("add", lambda s, t: int(t) == sum(int(n) for n in s.split("+"))),
    ],
)
def test_targets_are_right_for_every_example(task, check):
    lengths = torch.randint(3, 40, (2_000,), generator=torch.Generator().manual_seed(1))
    examples = generate(task, lengths, torch.Generator().manual_seed(2))
    for i in range(len(lengths)):
        source, target = _strings(examples, i)
        assert len(source) == lengths[i], (source, int(lengths[i]))
        assert check(source, target), (task, source, target)


def test_add_numbers_have_no_leading_zeros_and_the_sum_may_carry():
    examples = generate("add", torch.full((3_000,), 9), torch.Generator().manual_seed(0))
    pairs = [_strings(examples, i) for i in range(3_000)]
    assert all(
        len(a) == 4 and len(b) == 4 and a[0] != "0" and b[0] != "0"
        for a, b in (s.split("+") for s, _ in pairs)
    )
    sum_lengths = {len(t) for _, t in pairs}
    assert sum_lengths == {4, 5}  # with and without a final carry


def test_padding_and_eos():
    lengths = torch.tensor([3, 7, 5])
    ex = generate("reverse", lengths, torch.Generator().manual_seed(0))
    for i, n in enumerate(lengths.tolist()):
        assert (ex.src[i, n:] == PAD).all() and (ex.src[i, :n] != PAD).all()
        assert ex.tgt[i, n] == EOS and (ex.tgt[i, n + 1 :] == PAD).all()
        assert ex.tgt_len[i] == n + 1


def test_same_seed_same_data_and_other_seed_other_data():
    def data(seed):
        dm = SequenceDataModule(
            task="sort",
            min_len=3,
            max_len=12,
            test_lengths=[6, 20],
            train_size=500,
            val_size=100,
            test_size=50,
            seed=seed,
        )
        dm.setup()
        return dm

    a, b, c = data(0), data(0), data(1)
    for split in ("train", "val", "test"):
        for x, y in zip(a.datasets[split].examples, b.datasets[split].examples, strict=True):
            assert torch.equal(x, y)
    assert not torch.equal(a.datasets["train"].examples.src[:, :3], c.datasets["train"].examples.src[:, :3])


def test_global_rng_does_not_change_the_data():
    def first_batch(global_seed):
        torch.manual_seed(global_seed)
        dm = SequenceDataModule(train_size=200, val_size=10, test_size=10)
        dm.setup()
        return dm.datasets["train"].examples.src

    assert torch.equal(first_batch(0), first_batch(123))


def test_lengths_and_batches():
    dm = SequenceDataModule(
        task="copy",
        min_len=4,
        max_len=9,
        test_lengths=[5, 18],
        train_size=1_000,
        val_size=200,
        test_size=30,
        batch_size=32,
    )
    dm.setup()
    train_lengths = dm.datasets["train"].examples.src_len
    assert train_lengths.min() == 4 and train_lengths.max() == 9
    test_lengths = dm.datasets["test"].examples.src_len
    assert sorted(test_lengths.unique().tolist()) == [5, 18] and len(test_lengths) == 60

    seen = []
    for batch in dm.train_dataloader():
        assert batch.src.size(1) == batch.src_len.max()  # trimmed to its longest
        assert batch.src_len.max() - batch.src_len.min() <= 1  # bucketed by length
        assert batch.src_mask.sum() == batch.src_len.sum()
        seen.append(batch.src_len)
    assert sum(len(s) for s in seen) == 1_000  # every example once per epoch
