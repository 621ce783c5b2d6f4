"""LightningDataModule for the generated sequence tasks."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from attnlab.data.tasks import VOCAB, Examples, generate


class Batch(NamedTuple):
    src: Tensor  # (B, S) token ids, PAD-padded
    src_len: Tensor  # (B,)
    tgt: Tensor  # (B, T) token ids ending with EOS, PAD-padded
    tgt_len: Tensor  # (B,)

    @property
    def src_mask(self) -> Tensor:
        """(B, S) True at real (non-padding) source positions."""
        return torch.arange(self.src.size(1), device=self.src.device) < self.src_len[:, None]


class SequenceDataset(Dataset):
    """Pre-generated examples; a batch is fetched in one indexing op and trimmed to its longest."""

    def __init__(self, examples: Examples) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples.src)

    def __getitem__(self, index: int) -> Batch:
        return self.__getitems__([index])

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        idx = torch.as_tensor(indices)
        src, src_len, tgt, tgt_len = (t[idx] for t in self.examples)
        return Batch(src[:, : int(src_len.max())], src_len, tgt[:, : int(tgt_len.max())], tgt_len)


def _batch_as_is(batch: Batch) -> Batch:
    return batch


class SequenceDataModule(L.LightningDataModule):
    """Train/val examples with source lengths uniform in [min_len, max_len]; ``test_size``
    test examples at each of ``test_lengths``, which may lie past ``max_len``.

    Every split has its own generator seeded from ``seed``, so each process that calls
    ``setup`` builds exactly the same data.
    """

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
        super().__init__()
        self.task, self.min_len, self.max_len = task, min_len, max_len
        self.test_lengths = sorted(int(n) for n in test_lengths)
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.batch_size, self.seed = batch_size, seed
        self.datasets: dict[str, SequenceDataset] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def split_lengths(self, split: str, g: torch.Generator) -> Tensor:
        if split == "test":
            return torch.tensor(self.test_lengths).repeat_interleave(self.sizes["test"])
        return torch.randint(self.min_len, self.max_len + 1, (self.sizes[split],), generator=g)

    def setup(self, stage: str | None = None) -> None:
        for offset, split in enumerate(("train", "val", "test")):
            if split not in self.datasets:
                g = torch.Generator().manual_seed(self.seed * 1_000 + offset)
                examples = generate(self.task, self.split_lengths(split, g), g)
                self.datasets[split] = SequenceDataset(examples)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            collate_fn=_batch_as_is,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
