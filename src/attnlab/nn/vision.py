"""Attention over images (lecture points 3 and 5): attention does not care about order, so its
"hidden states" can be the cells of a CNN's feature grid.

``ConvEncoder``     image -> feature grid (B, C, H', W')
``SelfAttention2d`` every cell attends to every cell (Zhang et al. 2019, SAGAN): queries, keys
                    and values projected per cell (1x1 convolutions), y = x + gamma * attention,
                    gamma starting at 0
``CNNClassifier``   ConvEncoder, optionally SelfAttention2d, global average pooling, a linear head
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from attnlab.nn.attention import MultiHeadAttention


class ConvEncoder(nn.Module):
    """One block per entry of ``channels``: 3x3 convolution, batch norm, ReLU; a 2x2 max pool
    after every block but the last, so the grid is the image downsampled 2^(blocks - 1) times."""

    def __init__(self, channels: Sequence[int] = (8, 32, 64), in_channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, width in enumerate(channels):
            if i:
                layers.append(nn.MaxPool2d(2))
            layers += [
                nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            ]
            in_channels = width
        self.layers = nn.Sequential(*layers)
        self.out_channels = in_channels
        self.pools = len(channels) - 1

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        for _ in range(self.pools):  # MaxPool2d floors
            height, width = height // 2, width // 2
        return height, width

    def forward(self, images: Tensor) -> Tensor:
        return self.layers(images)


def sinusoidal_2d(channels: int, height: int, width: int, device=None) -> Tensor:
    """(channels, height, width) positions: the first half of the channels encodes the row, the
    second half the column, each with Vaswani et al.'s sinusoids."""
    if channels % 4:
        raise ValueError(f"2D sinusoidal positions need channels divisible by 4, got {channels}")
    quarter = channels // 4
    freqs = torch.exp(torch.arange(quarter, device=device) * (-torch.log(torch.tensor(10_000.0)) / quarter))

    def encode(n: int) -> Tensor:  # (2 * quarter, n)
        angles = torch.arange(n, device=device)[None, :] * freqs[:, None]
        return torch.cat([angles.sin(), angles.cos()], dim=0)

    rows = encode(height)[:, :, None].expand(-1, height, width)
    cols = encode(width)[:, None, :].expand(-1, height, width)
    return torch.cat([rows, cols], dim=0)


class SelfAttention2d(nn.Module):
    """Self-attention over the H x W cells of a feature map, (B, C, H, W) -> same shape:
    y = x + gamma * MultiHeadAttention(cells, cells, cells).

    Each cell is a token; the attention layer's query, key and value projections act on every
    cell alone, which is what SAGAN's 1x1 convolutions compute. ``gamma`` starts at 0: the
    block starts as the identity and learns how much attention to mix in. Training goes through
    the fused kernel; ``need_weights=True`` also returns the (B, N, N) weights, query cells in
    rows (averaged over heads), for the plots.
    """

    def __init__(self, channels: int, num_heads: int = 1) -> None:
        super().__init__()
        self.attention = MultiHeadAttention(channels, num_heads)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        B, C, H, W = x.shape
        cells = x.flatten(2).transpose(1, 2)  # (B, N, C)
        attended, weights = self.attention(cells, cells, cells, need_weights=need_weights)
        return x + self.gamma * attended.transpose(1, 2).reshape(B, C, H, W), weights


class CNNClassifier(nn.Module):
    """Classifies a whole image: ConvEncoder, SelfAttention2d over its grid (unless
    ``self_attention=False``, the ablation), global average pooling, a linear layer.

    ``positions=True`` adds 2D sinusoidal positions to the grid before the attention (without
    them the block is equivariant to permuting the cells)."""

    def __init__(
        self,
        num_classes: int,
        channels: Sequence[int] = (8, 32, 64),
        self_attention: bool = True,
        num_heads: int = 1,
        positions: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = ConvEncoder(channels)
        width = self.encoder.out_channels
        self.attention = SelfAttention2d(width, num_heads) if self_attention else None
        self.positions = positions
        self.head = nn.Linear(width, num_classes)

    @property
    def has_attention(self) -> bool:
        return self.attention is not None

    def features(self, images: Tensor, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        grid = self.encoder(images)
        if self.positions:
            grid = grid + sinusoidal_2d(grid.size(1), grid.size(2), grid.size(3), grid.device)
        if self.attention is None:
            return grid, None
        return self.attention(grid, need_weights=need_weights)

    def forward(self, images: Tensor) -> Tensor:
        grid, _ = self.features(images)
        return self.head(grid.mean(dim=(2, 3)))

    @torch.no_grad()
    def attention_weights(self, images: Tensor) -> Tensor:
        """(B, H'W', H'W') the block's weights: row n is where grid cell n looks."""
        if self.attention is None:
            raise ValueError("this classifier has no self-attention block (self_attention=False)")
        return self.features(images, need_weights=True)[1]
