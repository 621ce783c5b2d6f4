"""The Transformer (lecture point 6): blocks of self-attention and a per-position MLP, each
wrapped in a residual connection and a normalization.

    post (Vaswani 2017, the lecture's drawing):  x = Norm(x + Sublayer(x))
    pre  (Xiong 2020):                           x = x + Sublayer(Norm(x)), a final Norm after the stack
    rms  (Zhang & Sennrich 2019):                pre placement with RMSNorm
    none:                                        x = x + Sublayer(x)

Self-attention is permutation-equivariant, so positions are added to the token embeddings:
sinusoidal (Vaswani 3.5), learned, or none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from attnlab.nn.attention import MultiHeadAttention, additive_mask
from attnlab.nn.decoding import IncrementalDecoder

NORMS = ("post", "pre", "rms", "none")
POSITIONS = ("sinusoidal", "learned", "none")


def _norm(kind: str, d_model: int) -> nn.Module:
    if kind not in NORMS:
        raise ValueError(f"unknown norm {kind!r}; choose one of {', '.join(NORMS)}")
    return {"rms": nn.RMSNorm, "none": lambda d: nn.Identity()}.get(kind, nn.LayerNorm)(d_model)


def _embedding(vocab_size: int, d_model: int) -> nn.Embedding:
    """Token embeddings with std d_model^-1/2: scaled by sqrt(d_model) in the forward pass they
    have unit variance, the size of the positional encodings, so that positions are not drowned
    (nn.Embedding's N(0, 1) times sqrt(d_model) would outweigh them sqrt(d_model) to 1)."""
    embedding = nn.Embedding(vocab_size, d_model)
    nn.init.normal_(embedding.weight, std=d_model**-0.5)
    return embedding


class Residual(nn.Module):
    """The residual connection around one sublayer, with the norm before or after it."""

    def __init__(self, d_model: int, norm: str, dropout: float) -> None:
        super().__init__()
        self.norm, self.post = _norm(norm, d_model), norm == "post"
        self.dropout = nn.Dropout(dropout)

    def before(self, x: Tensor) -> Tensor:
        return x if self.post else self.norm(x)

    def after(self, x: Tensor, sublayer_out: Tensor) -> Tensor:
        x = x + self.dropout(sublayer_out)
        return self.norm(x) if self.post else x


class FeedForward(nn.Sequential):
    """The per-position MLP: max(0, x W_1 + b_1) W_2 + b_2."""

    def __init__(self, d_model: int, d_ff: int, dropout: float) -> None:
        super().__init__(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))


class PositionalEncoding(nn.Module):
    def __init__(self, kind: str, d_model: int, max_len: int) -> None:
        super().__init__()
        if kind not in POSITIONS:
            raise ValueError(f"unknown positional encoding {kind!r}; choose one of {', '.join(POSITIONS)}")
        self.kind, self.max_len = kind, max_len
        if kind == "sinusoidal":  # PE(p, 2i) = sin(p / 10000^(2i/d)), PE(p, 2i+1) = cos(...)
            position = torch.arange(max_len).unsqueeze(1)
            frequency = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10_000.0) / d_model))
            table = torch.zeros(max_len, d_model)
            table[:, 0::2] = torch.sin(position * frequency)
            table[:, 1::2] = torch.cos(position * frequency)
            self.register_buffer("table", table, persistent=False)
        elif kind == "learned":
            self.table = nn.Parameter(0.02 * torch.randn(max_len, d_model))

    def forward(self, x: Tensor, offset: int = 0, positions: Tensor | None = None) -> Tensor:
        """x (B, T, D) plus the encodings of positions offset..offset+T-1, or of ``positions``
        (B, T) when every example has its own (a left-padded prompt)."""
        if self.kind == "none":
            return x
        last = offset + x.size(1) - 1 if positions is None else int(positions.max())
        if last >= self.max_len:
            raise ValueError(f"position {last} is past the positional table (max_len={self.max_len})")
        return x + (self.table[offset : last + 1] if positions is None else self.table[positions])


class EncoderBlock(nn.Module):
    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float, norm: str, scaled: bool):
        super().__init__()
        self.attention = MultiHeadAttention(d_model, num_heads, dropout, scaled=scaled)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.residual = nn.ModuleList(Residual(d_model, norm, dropout) for _ in range(2))

    def forward(
        self, x: Tensor, padding: Tensor | None = None, is_causal: bool = False, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        h = self.residual[0].before(x)
        y, weights = self.attention(
            h,
            h,
            h,
            key_padding_mask=padding,
            is_causal=is_causal,
            need_weights=need_weights,
            average_attn_weights=False,
        )
        x = self.residual[0].after(x, y)
        return self.residual[1].after(x, self.feed_forward(self.residual[1].before(x))), weights


@dataclass
class DecoderCache:
    """What one decoder layer keeps between generation steps."""

    memory_k: Tensor  # (B, h, S, d_k): the source projected once
    memory_v: Tensor
    memory_mask: Tensor | None  # (B, 1, 1, S) additive
    self_k: list[Tensor] = field(default_factory=list)  # one (B, h, 1, d_k) per generated position
    self_v: list[Tensor] = field(default_factory=list)

    def select(self, index: Tensor) -> DecoderCache:
        """The rows of ``index`` (beams that survive), in that order."""
        pick = lambda t: None if t is None else t.index_select(0, index)  # noqa: E731
        return DecoderCache(
            pick(self.memory_k),
            pick(self.memory_v),
            pick(self.memory_mask),
            [pick(k) for k in self.self_k],
            [pick(v) for v in self.self_v],
        )


class DecoderBlock(nn.Module):
    """Masked self-attention, cross-attention to the encoder's output, MLP."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float, norm: str, scaled: bool):
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, num_heads, dropout, scaled=scaled)
        self.cross_attention = MultiHeadAttention(d_model, num_heads, dropout, scaled=scaled)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.residual = nn.ModuleList(Residual(d_model, norm, dropout) for _ in range(3))

    def forward(
        self, x: Tensor, memory: Tensor, memory_padding: Tensor | None, need_weights: bool = False
    ) -> tuple[Tensor, tuple[Tensor | None, Tensor | None]]:
        h = self.residual[0].before(x)
        y, self_weights = self.self_attention(
            h, h, h, is_causal=True, need_weights=need_weights, average_attn_weights=False
        )
        x = self.residual[0].after(x, y)
        h = self.residual[1].before(x)
        y, cross_weights = self.cross_attention(
            h,
            memory,
            memory,
            key_padding_mask=memory_padding,
            need_weights=need_weights,
            average_attn_weights=False,
        )
        x = self.residual[1].after(x, y)
        x = self.residual[2].after(x, self.feed_forward(self.residual[2].before(x)))
        return x, (self_weights, cross_weights)

    def start_cache(self, memory: Tensor, memory_padding: Tensor | None) -> DecoderCache:
        k, v = self.cross_attention.project_key_value(memory)
        mask = None if memory_padding is None else additive_mask(memory_padding, k.dtype)[:, None, None, :]
        return DecoderCache(k, v, mask)

    def step(self, x: Tensor, cache: DecoderCache) -> tuple[Tensor, Tensor]:
        """One new position x (B, 1, D) against the cached past -> (B, 1, D), cross weights (B, h, 1, S).
        Each step projects only the new position, so generation is linear in Python steps."""
        h = self.residual[0].before(x)
        q, k, v = self.self_attention.project(h, h, h)
        cache.self_k.append(k)
        cache.self_v.append(v)
        keys, values = torch.cat(cache.self_k, dim=2), torch.cat(cache.self_v, dim=2)
        y, _ = self.self_attention.attend(q, keys, values)  # the past only: no mask needed
        x = self.residual[0].after(x, y)
        h = self.residual[1].before(x)
        q = self.cross_attention.project_query(h)
        y, cross_weights = self.cross_attention.attend(
            q,
            cache.memory_k,
            cache.memory_v,
            cache.memory_mask,
            need_weights=True,
            average_attn_weights=False,
        )
        x = self.residual[1].after(x, y)
        x = self.residual[2].after(x, self.feed_forward(self.residual[2].before(x)))
        return x, cross_weights


class Transformer(IncrementalDecoder):
    """Encoder-decoder Transformer with the same interface as attnlab.nn.Seq2Seq."""

    has_attention = True

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 128,
        num_heads: int = 4,
        num_encoder_layers: int = 2,
        num_decoder_layers: int = 2,
        d_ff: int = 512,
        dropout: float = 0.0,
        norm: str = "pre",
        positional: str = "sinusoidal",
        max_len: int = 512,
        scaled: bool = True,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.embed = _embedding(vocab_size, d_model)
        self.positions = PositionalEncoding(positional, d_model, max_len)
        self.dropout = nn.Dropout(dropout)
        block = (d_model, num_heads, d_ff, dropout, norm, scaled)
        self.encoder = nn.ModuleList(EncoderBlock(*block) for _ in range(num_encoder_layers))
        self.decoder = nn.ModuleList(DecoderBlock(*block) for _ in range(num_decoder_layers))
        final = "none" if norm in ("post", "none") else norm  # pre-norm stacks end with one norm
        self.encoder_norm, self.decoder_norm = _norm(final, d_model), _norm(final, d_model)
        self.out = nn.Linear(d_model, vocab_size)

    def _embed(self, tokens: Tensor, offset: int = 0) -> Tensor:
        return self.dropout(self.positions(self.embed(tokens) * math.sqrt(self.d_model), offset))

    def encode(self, src: Tensor, src_len: Tensor) -> tuple[Tensor, Tensor]:
        """-> memory (B, S, D), padding (B, S) True at padded positions."""
        padding = torch.arange(src.size(1), device=src.device) >= src_len[:, None]
        x = self._embed(src)
        for block in self.encoder:
            x, _ = block(x, padding)
        return self.encoder_norm(x), padding

    def forward(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher forcing: (B, S), (B,), (B, T) -> logits (B, T, V)."""
        memory, padding = self.encode(src, src_len)
        x = self._embed(tgt_in)
        for block in self.decoder:
            x, _ = block(x, memory, padding)
        return self.out(self.decoder_norm(x))

    @torch.no_grad()
    def attention_maps(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> dict[str, list[Tensor]]:
        """Per-layer, per-head weights (B, h, rows, cols) for plots: the explicit path, run on the
        plotted examples only, so training stays on the fused kernel."""
        padding = torch.arange(src.size(1), device=src.device) >= src_len[:, None]
        maps: dict[str, list[Tensor]] = {"encoder self": [], "decoder self": [], "cross": []}
        x = self._embed(src)
        for block in self.encoder:
            x, weights = block(x, padding, need_weights=True)
            maps["encoder self"].append(weights)
        memory, y = self.encoder_norm(x), self._embed(tgt_in)
        for block in self.decoder:
            y, (self_weights, cross_weights) = block(y, memory, padding, need_weights=True)
            maps["decoder self"].append(self_weights)
            maps["cross"].append(cross_weights)
        return maps

    def start(self, src: Tensor, src_len: Tensor) -> tuple[list[DecoderCache], int]:
        memory, padding = self.encode(src, src_len)
        return [block.start_cache(memory, padding) for block in self.decoder], 0

    def step(self, state: tuple[list[DecoderCache], int], tokens: Tensor) -> tuple[Tensor, Tensor, tuple]:
        """One generated token (B,) against the key/value cache -> logits (B, V), the last
        layer's cross-attention averaged over heads (B, S) as the alignment, new state."""
        caches, position = state
        x = self._embed(tokens[:, None], offset=position)
        for block, cache in zip(self.decoder, caches, strict=True):
            x, cross_weights = block.step(x, cache)
        logits = self.out(self.decoder_norm(x))[:, 0]
        return logits, cross_weights.mean(dim=1)[:, 0], (caches, position + 1)

    def reorder(self, state: tuple[list[DecoderCache], int], index: Tensor) -> tuple[list[DecoderCache], int]:
        caches, position = state
        return [cache.select(index) for cache in caches], position
