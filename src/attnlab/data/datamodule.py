"""LightningDataModule for the generated sequence tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from attnlab.data.tasks import VOCAB, Examples, generate


class Batch(NamedTuple):
    src: Tensor  # (B, S) token ids, PAD-padded
    src_len: Tensor  # (B,)
    tgt: Tensor  # (B, T) token ids ending with EOS, PAD-padded; or a class per example (B,)
    tgt_len: Tensor  # (B,); 1 for a class

    @property
    def src_mask(self) -> Tensor:
        """(B, S) True at real (non-padding) source positions."""
        return torch.arange(self.src.size(1), device=self.src.device) < self.src_len[:, None]


class SequenceDataset(Dataset):
    """Pre-generated examples; a batch is fetched in one indexing op and trimmed to its longest."""

    def __init__(self, examples: Examples) -> None:
        self.examples = examples

    @property
    def lengths(self) -> Tensor:
        """(N,) what batches are bucketed by and exact match is broken down by."""
        return self.examples.src_len

    def __len__(self) -> int:
        return len(self.examples.src)

    def __getitem__(self, index: int) -> Batch:
        return self.__getitems__([index])

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        idx = torch.as_tensor(indices)
        src, src_len, tgt, tgt_len = (t[idx] for t in self.examples)
        if tgt.dim() == 2:  # a sequence; a class (B,) is taken as it is
            tgt = tgt[:, : int(tgt_len.max())]
        return Batch(src[:, : int(src_len.max())], src_len, tgt, tgt_len)


class FixedBatches(Dataset):
    """Item i is a whole batch, cut once from the data set; `ResumableSampler` shuffles and
    shards the order of the batches."""

    def __init__(self, dataset: Dataset, batches: Sequence[Tensor]) -> None:
        self.dataset, self.batches = dataset, list(batches)

    @classmethod
    def by_length(cls, dataset: Dataset, batch_size: int, generator: torch.Generator) -> FixedBatches:
        """Batches whose examples have (nearly) the same length: cut from the examples sorted by
        ``dataset.lengths`` (ties in random order), so a batch pads little and an RNN step
        costs what its length needs."""
        lengths = dataset.lengths
        shuffled = torch.randperm(len(lengths), generator=generator)
        return cls(dataset, shuffled[torch.argsort(lengths[shuffled], stable=True)].split(batch_size))

    @classmethod
    def shuffled(cls, dataset: Dataset, batch_size: int, generator: torch.Generator) -> FixedBatches:
        return cls(dataset, torch.randperm(len(dataset), generator=generator).split(batch_size))

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> Batch:
        return self.dataset.__getitems__(self.batches[index].tolist())


class ResumableSampler(DistributedSampler):
    """The batch order of an epoch: a permutation drawn from (seed, epoch), sharded across ranks.

    It is a `DistributedSampler`, so Lightning sets its epoch and leaves it in place under DDP,
    and the order depends on nothing but the seed and the epoch. ``start`` skips the batches of
    the first epoch that a resumed run has already trained on, so the run continues with the
    batch it would have seen next.
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, seed: int, start: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.start = start

    def __iter__(self):
        indices = list(super().__iter__())
        start, self.start = self.start, 0  # only the epoch that a resumed run re-enters is partial
        return iter(indices[start:])


def _batch_as_is(batch: Batch) -> Batch:
    return batch


class GeneratedDataModule(L.LightningDataModule):
    """Splits generated from ``seed`` alone: each has its own generator, so every process that
    calls ``setup`` builds exactly the same data. Training batches are cut once
    (``train_batches``) and their order is drawn per epoch by `ResumableSampler`.
    """

    def __init__(self, train_size: int, val_size: int, test_size: int, batch_size: int, seed: int) -> None:
        super().__init__()
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.batch_size, self.seed = batch_size, seed
        self.datasets: dict[str, Dataset] = {}
        self.train_batches: FixedBatches | None = None

    @property
    def net_args(self) -> dict[str, int]:
        """The sizes the network takes from the data (train.py passes them to model.net)."""
        raise NotImplementedError

    def make_dataset(self, split: str, g: torch.Generator) -> Dataset:
        raise NotImplementedError

    def make_train_batches(self, dataset: Dataset, g: torch.Generator) -> FixedBatches:
        return FixedBatches.by_length(dataset, self.batch_size, g)

    def setup(self, stage: str | None = None) -> None:
        for offset, split in enumerate(("train", "val", "test")):
            if split not in self.datasets:
                g = torch.Generator().manual_seed(self.seed * 1_000 + offset)
                self.datasets[split] = self.make_dataset(split, g)
        if self.train_batches is None:
            g = torch.Generator().manual_seed(self.seed * 1_000 + 3)
            self.train_batches = self.make_train_batches(self.datasets["train"], g)

    def plot_examples(self, n: int):
        """n fixed validation examples spread over the range of lengths: what the plots show."""
        dataset = self.datasets["val"]
        order = torch.argsort(dataset.lengths, stable=True)
        picks = torch.linspace(0, len(order) - 1, n).round().long()
        return dataset.__getitems__(order[picks].tolist())

    def _loader(self, split: str) -> DataLoader:
        return DataLoader(self.datasets[split], batch_size=self.batch_size, collate_fn=_batch_as_is)

    def train_dataloader(self) -> DataLoader:
        world, rank, epoch, start = 1, 0, 0, 0
        if (trainer := self.trainer) is not None:
            world, rank = trainer.world_size, trainer.global_rank
            # A resumed run (global_step > 0 here) re-enters its epoch where it left it: every
            # epoch has the same number of batches, so the step count says where that is. The
            # epoch is set here because Lightning draws the first batch before it sets the epoch.
            per_rank = -(-len(self.train_batches) // world)
            epoch, start = divmod(trainer.global_step * trainer.accumulate_grad_batches, per_rank)
        sampler = ResumableSampler(self.train_batches, world, rank, seed=self.seed, start=start)
        sampler.set_epoch(epoch)
        return DataLoader(self.train_batches, batch_size=None, sampler=sampler, collate_fn=_batch_as_is)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")


class SequenceDataModule(GeneratedDataModule):
    """Train/val examples with source lengths uniform in [min_len, max_len]; ``test_size``
    test examples at each of ``test_lengths``, which may lie past ``max_len``."""

    vocab = VOCAB

    def __init__(
        self,
        task: str = "reverse",
        min_len: int = 1,
        max_len: int = 8,
        test_lengths: Sequence[int] = (8,),
        train_size: int = 20_000,
        val_size: int = 1_000,
        test_size: int = 500,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        super().__init__(train_size, val_size, test_size, batch_size, seed)
        self.task, self.min_len, self.max_len = task, min_len, max_len
        self.test_lengths = sorted(int(n) for n in test_lengths)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def net_args(self) -> dict[str, int]:
        return {"vocab_size": self.vocab_size}

    def split_lengths(self, split: str, g: torch.Generator) -> Tensor:
        if split == "test":
            return torch.tensor(self.test_lengths).repeat_interleave(self.sizes["test"])
        return torch.randint(self.min_len, self.max_len + 1, (self.sizes[split],), generator=g)

    def make_examples(self, split: str, g: torch.Generator) -> Examples:
        lengths = self.split_lengths(split, g).sort().values  # sorted: little padding
        return generate(self.task, lengths, g)

    def make_dataset(self, split: str, g: torch.Generator) -> SequenceDataset:
        return SequenceDataset(self.make_examples(split, g))
