"""Canvases of real handwritten digits, captioned in reading order ("three seven one").

The digits are the 1,797 8x8 scans that scikit-learn ships (``load_digits``): no download. A
canvas holds k digits (k uniform in [min_digits, max_digits]) in k of its ``slots``, which lie
along one row or on a grid of two rows; each digit is scaled to a random size and jittered
inside its slot. The source images are split once between train, val and test, so no test
canvas holds a scan that a training canvas holds. Like every attnlab task, generation is driven
by explicit generators: the same seed gives the same canvases in every process.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from attnlab.data.datamodule import Batch, FixedBatches, GeneratedDataModule
from attnlab.data.tasks import EOS, PAD, SPECIALS

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOCAB: tuple[str, ...] = SPECIALS + WORDS
WORD0 = len(SPECIALS)  # token id of "zero"
TARGETS = ("caption", "sum", "count")
LAYOUTS = ("row", "grid", "mixed")
SPLIT_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}  # of the source scans


@functools.cache
def digit_scans() -> tuple[Tensor, Tensor]:
    """The scikit-learn digits: images (1797, 8, 8) in [0, 1] and labels (1797,)."""
    from sklearn.datasets import load_digits  # imported here: only image tasks need it

    digits = load_digits()
    return torch.from_numpy(digits.images).float() / 16.0, torch.from_numpy(digits.target).long()


def source_split(seed: int, n: int) -> dict[str, Tensor]:
    """Disjoint sets of scan indices per split, from ``seed`` alone."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    train = round(n * SPLIT_FRACTIONS["train"])
    val = round(n * SPLIT_FRACTIONS["val"])
    return {"train": order[:train], "val": order[train : train + val], "test": order[train + val :]}


def slot_grid(layout: str, slots: int) -> tuple[int, int]:
    """(rows, columns) of the slots: one row, or two rows for the grid."""
    return (1, slots) if layout == "row" else (2, slots // 2)


class Canvases(NamedTuple):
    images: Tensor  # (N, 1, H, W) in [0, 1]
    digits: Tensor  # (N, max_digits) labels in reading order, -1 after the k-th
    num_digits: Tensor  # (N,) k
    scans: Tensor  # (N, max_digits) index of each digit's scan in `digit_scans()`, -1 after k
    boxes: Tensor  # (N, max_digits, 3) top, left and side of each digit in pixels


def compose(
    scans: Tensor,
    labels: Tensor,
    pool: Tensor,
    n: int,
    digit_range: tuple[int, int],
    layout: str,
    size: tuple[int, int],
    slots: int,
    scale: tuple[int, int],
    g: torch.Generator,
) -> Canvases:
    """n canvases of ``size`` (H, W) drawn from the scans whose indices are in ``pool``. Each
    digit is resized to a random side in ``scale`` (pixels) and placed at a random offset inside
    a random free slot; digits cannot overlap, as a slot holds one digit.

    The reading order must be visible in the image, whatever the layout: a digit of the row
    layout always crosses the canvas's middle line, a digit of the grid never does (it stays
    in its half). Otherwise a row canvas with a high digit right of a low one would look like
    a grid canvas read in the other order.
    """
    (lo, hi), (height, width) = digit_range, size
    k = torch.randint(lo, hi + 1, (n,), generator=g)
    grid = torch.rand(n, generator=g) < 0.5 if layout == "mixed" else torch.full((n,), layout == "grid")
    slot_order = torch.rand(n, slots, generator=g).argsort(dim=1)  # the first k are used
    picks = pool[torch.randint(0, len(pool), (n, hi), generator=g)]
    sides = torch.randint(scale[0], scale[1] + 1, (n, hi), generator=g)
    jitter = torch.rand(n, hi, 2, generator=g)
    resized = {  # every scan at every side, once
        side: F.interpolate(scans[:, None], size=(side, side), mode="bilinear")[:, 0].numpy()
        for side in range(scale[0], scale[1] + 1)
    }

    images = np.zeros((n, height, width), dtype=np.float32)
    digits, used = np.full((n, hi), -1, dtype=np.int64), np.full((n, hi), -1, dtype=np.int64)
    boxes = np.zeros((n, hi, 3), dtype=np.int64)
    labels_np = labels.numpy()
    k_np, grid_np, order_np = k.numpy(), grid.numpy(), slot_order.numpy()
    picks_np, sides_np, jitter_np = picks.numpy(), sides.numpy(), jitter.numpy()
    middle = height // 2
    for i in range(n):
        rows, cols = slot_grid("grid" if grid_np[i] else "row", slots)
        slot_h, slot_w = height // rows, width // cols
        chosen = np.sort(order_np[i, : k_np[i]])  # row-major: the reading order
        for j, slot in enumerate(chosen):
            side, scan = sides_np[i, j], picks_np[i, j]
            r, c = divmod(int(slot), cols)
            if rows == 1:  # top in middle-side+1 .. middle-1: the digit crosses the middle line
                y = middle - side + 1 + int(jitter_np[i, j, 0] * (side - 1))
            else:
                y = r * slot_h + int(jitter_np[i, j, 0] * (slot_h - side + 1))
            x = c * slot_w + int(jitter_np[i, j, 1] * (slot_w - side + 1))
            patch = images[i, y : y + side, x : x + side]
            np.maximum(patch, resized[side][scan], out=patch)
            digits[i, j], used[i, j], boxes[i, j] = labels_np[scan], scan, (y, x, side)
    images_t = torch.from_numpy(images)[:, None]
    return Canvases(images_t, torch.from_numpy(digits), k, torch.from_numpy(used), torch.from_numpy(boxes))


class CanvasDataset(Dataset):
    """Canvases and their targets; a batch is a `Batch` whose source is the image.

    ``src`` (B, 1, H, W) canvases, ``src_len`` (B,) the number of digits k, ``tgt`` the caption
    (B, T) ending with EOS (``target="caption"``) or the class (B,) (``"sum"``, ``"count"``),
    ``tgt_len`` the caption's length with its EOS (1 for a class).
    """

    def __init__(self, canvases: Canvases, target: str) -> None:
        self.canvases, self.target = canvases, target
        digits, k = canvases.digits, canvases.num_digits
        if target == "caption":
            self.tgt = torch.where(digits >= 0, digits + WORD0, PAD)
            self.tgt = torch.cat([self.tgt, torch.full_like(k[:, None], PAD)], dim=1)
            self.tgt[torch.arange(len(k)), k] = EOS
            self.tgt_len = k + 1
        else:
            self.tgt = digits.clamp(min=0).sum(1) if target == "sum" else k.clone()
            self.tgt_len = torch.ones_like(k)

    @property
    def lengths(self) -> Tensor:
        return self.canvases.num_digits

    def __len__(self) -> int:
        return len(self.tgt)

    def __getitem__(self, index: int) -> Batch:
        return self.__getitems__([index])

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        idx = torch.as_tensor(indices)
        tgt, tgt_len = self.tgt[idx], self.tgt_len[idx]
        if tgt.dim() == 2:
            tgt = tgt[:, : int(tgt_len.max())]
        return Batch(self.canvases.images[idx], self.canvases.num_digits[idx], tgt, tgt_len)


class DigitCanvasDataModule(GeneratedDataModule):
    """``target="caption"``: the digit words in reading order, for ``model=captioner``;
    ``"sum"`` (0..9k) or ``"count"`` (k): one class per canvas, for ``model=cnn_selfattn``."""

    vocab = VOCAB

    def __init__(
        self,
        target: str = "caption",
        min_digits: int = 1,
        max_digits: int = 4,
        layout: str = "mixed",
        height: int = 24,
        width: int = 72,
        slots: int = 6,
        min_scale: int = 8,
        max_scale: int = 12,
        train_size: int = 10_000,
        val_size: int = 1_000,
        test_size: int = 1_000,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        super().__init__(train_size, val_size, test_size, batch_size, seed)
        self.target, self.digit_range, self.layout = target, (min_digits, max_digits), layout
        self.size, self.slots, self.scale = (height, width), slots, (min_scale, max_scale)

    @property
    def num_classes(self) -> int:
        return 9 * self.digit_range[1] + 1 if self.target == "sum" else self.digit_range[1] + 1

    @property
    def net_args(self) -> dict[str, int]:
        if self.target == "caption":
            return {"vocab_size": len(self.vocab)}
        return {"num_classes": self.num_classes}

    def make_dataset(self, split: str, g: torch.Generator) -> CanvasDataset:
        scans, labels = digit_scans()
        own = source_split(self.seed, len(scans))[split]
        canvases = compose(
            scans, labels, own, self.sizes[split], self.digit_range, self.layout, self.size,
            self.slots, self.scale, g,
        )  # fmt: skip
        return CanvasDataset(canvases, self.target)

    def make_train_batches(self, dataset: Dataset, g: torch.Generator) -> FixedBatches:
        # Not bucketed by k: batch norm would then see one number of digits per training batch
        # and a mix at evaluation; a mix of classes per batch helps the classifier too.
        return FixedBatches.shuffled(dataset, self.batch_size, g)
