"""The digit canvases: seeded, split by source scan, captions that say what is drawn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnlab.data import EOS, PAD
from attnlab.data.digits import WORD0, DigitCanvasDataModule, digit_scans, slot_grid, source_split

SMALL = dict(train_size=300, val_size=60, test_size=60, max_digits=6)


@pytest.fixture(scope="module")
def data() -> DigitCanvasDataModule:
    dm = DigitCanvasDataModule(**SMALL, seed=3)
    dm.setup()
    return dm


def test_the_same_seed_gives_the_same_canvases_whatever_the_global_rng(data):
    torch.manual_seed(123)
    again = DigitCanvasDataModule(**SMALL, seed=3)
    again.setup()
    for split in ("train", "val", "test"):
        assert torch.equal(data.datasets[split].canvases.images, again.datasets[split].canvases.images)
        assert torch.equal(data.datasets[split].tgt, again.datasets[split].tgt)
    other = DigitCanvasDataModule(**SMALL, seed=4)
    other.setup()
    assert not torch.equal(data.datasets["train"].canvases.images, other.datasets["train"].canvases.images)


def test_splits_share_no_source_scan(data):
    split = source_split(3, len(digit_scans()[0]))
    assert sum(len(v) for v in split.values()) == len(digit_scans()[0])
    used = {}
    for name in ("train", "val", "test"):
        scans = data.datasets[name].canvases.scans
        used[name] = set(scans[scans >= 0].tolist())
        assert used[name] <= set(split[name].tolist())
    assert not used["train"] & used["test"] and not used["train"] & used["val"]
    assert not used["val"] & used["test"]


def test_each_caption_names_the_digits_drawn_in_reading_order(data):
    scans, labels = digit_scans()
    dataset = data.datasets["train"]
    canvases = dataset.canvases
    for i in range(len(dataset)):
        k = int(canvases.num_digits[i])
        redrawn = np.zeros(canvases.images.shape[-2:], dtype=np.float32)
        positions = []
        for j in range(k):
            scan, (y, x, side) = int(canvases.scans[i, j]), canvases.boxes[i, j].tolist()
            digit = F.interpolate(scans[scan][None, None], size=(side, side), mode="bilinear")[0, 0]
            patch = redrawn[y : y + side, x : x + side]
            np.maximum(patch, digit.numpy(), out=patch)
            positions.append((y, x))
        # the image holds exactly these scans at these places
        assert np.array_equal(redrawn, canvases.images[i, 0].numpy())
        # the caption: their labels (in the order of the boxes), then EOS
        caption = dataset.tgt[i].tolist()
        assert caption[:k] == [WORD0 + int(labels[int(s)]) for s in canvases.scans[i, :k]]
        assert caption[k] == EOS and all(t == PAD for t in caption[k + 1 :])


def test_sum_and_count_targets():
    common = dict(train_size=50, val_size=10, test_size=10, min_digits=2, max_digits=5)
    for target, classes in (("sum", 46), ("count", 6)):
        dm = DigitCanvasDataModule(target=target, **common)
        dm.setup()
        canvases, tgt = dm.datasets["train"].canvases, dm.datasets["train"].tgt
        expected = canvases.digits.clamp(min=0).sum(1) if target == "sum" else canvases.num_digits
        assert torch.equal(tgt, expected)
        assert dm.net_args == {"num_classes": classes} and int(tgt.max()) < classes


def test_layouts_place_digits_in_their_slots_one_per_slot():
    for layout in ("row", "grid"):
        dm = DigitCanvasDataModule(layout=layout, train_size=100, val_size=10, test_size=10, max_digits=6)
        dm.setup()
        _, columns = slot_grid(layout, dm.slots)
        boxes = dm.datasets["train"].canvases.boxes
        k = dm.datasets["train"].canvases.num_digits
        height, width = dm.size
        slot_w = width // columns
        for i in range(len(k)):
            placed = [(y, x // slot_w) for y, x, _ in boxes[i, : k[i]].tolist()]
            for y, x, side in boxes[i, : k[i]].tolist():
                assert x // slot_w == (x + side - 1) // slot_w  # inside one column of slots
                crosses = y < height // 2 < y + side
                assert crosses == (layout == "row")  # row digits cross the middle, grid ones never
            rows = [y >= height // 2 and layout == "grid" for y, _ in placed]
            assert len(set(zip(rows, [c for _, c in placed], strict=True))) == len(placed)  # one per slot


def test_the_reading_order_can_be_read_off_the_image_in_the_mixed_layout(data):
    """Row canvases (a digit crosses the middle line) read left to right; grid canvases read
    the top half, then the bottom half. The captions follow that order on every canvas."""
    canvases = data.datasets["train"].canvases
    middle = canvases.images.shape[-2] // 2
    layouts = set()
    for i in range(len(canvases.num_digits)):
        boxes = canvases.boxes[i, : canvases.num_digits[i]].tolist()
        row = any(y < middle < y + side for y, _, side in boxes)
        layouts.add(row)
        keys = [(0 if row else int(y >= middle), x) for y, x, _ in boxes]
        assert keys == sorted(keys), (i, boxes)
    assert layouts == {True, False}  # both layouts occur
