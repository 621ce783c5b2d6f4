"""SelfAttention2d against the same block built on torch.nn.MultiheadAttention (the cells
flattened to tokens, need_weights=False), forward+backward at the captioning grid's shape
(target: ratio <= 1.0); and, for the record, what the block adds to a CNNClassifier step."""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnlab.nn import CNNClassifier, SelfAttention2d
from benchmarks.common import median_seconds, write

BATCH, CHANNELS, GRID = 64, 64, (6, 18)  # model=cnn_selfattn on 24 x 72 canvases


class TorchSelfAttention2d(nn.Module):
    """The reference: x + gamma * torch.nn.MultiheadAttention over the flattened cells."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(channels, 1, batch_first=True)
        self.gamma = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        cells = x.flatten(2).transpose(1, 2)
        out, _ = self.attention(cells, cells, cells, need_weights=False)
        return x + self.gamma * out.transpose(1, 2).reshape(B, C, H, W)


def block_timing(repeats: int = 20) -> dict:
    torch.manual_seed(0)
    reference = TorchSelfAttention2d(CHANNELS)
    ours = SelfAttention2d(CHANNELS)
    with torch.no_grad():
        ours.gamma.fill_(0.5)
    x = torch.randn(BATCH, CHANNELS, *GRID, requires_grad=True)
    seconds = median_seconds(
        {"attnlab": lambda: ours(x)[0].sum().backward(), "torch": lambda: reference(x).sum().backward()},
        repeats,
    )
    return {"seconds": seconds, "ratio": seconds["attnlab"] / seconds["torch"]}


def classifier_step(repeats: int = 10) -> dict:
    torch.manual_seed(0)
    images, target = torch.rand(BATCH, 1, 24, 72), torch.randint(0, 37, (BATCH,))
    nets = {"with_block": CNNClassifier(37), "without_block": CNNClassifier(37, self_attention=False)}

    def step(net: nn.Module):
        return lambda: F.cross_entropy(net(images), target).backward()

    return median_seconds({name: step(net) for name, net in nets.items()}, repeats)


def run() -> dict:
    block = block_timing()
    return {
        "shape": {"batch": BATCH, "channels": CHANNELS, "grid": list(GRID)},
        "seconds": block["seconds"],
        "ratio": block["ratio"],
        "classifier_step_seconds": classifier_step(),
        "target": "ratio <= 1.0 (SelfAttention2d vs the block on torch.nn.MultiheadAttention)",
    }


if __name__ == "__main__":
    result = run()
    print(write("vision", result))
    print(json.dumps(result, indent=1))
