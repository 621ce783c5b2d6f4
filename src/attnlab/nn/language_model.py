"""A decoder-only Transformer (GPT-style) on the same sequence tasks: the source and then the
target are one causal sequence, and the model learns to continue the source with the target.

The source is left-padded, so every example's target starts at the same column and one
key/value cache serves the whole batch; each example's positions still count from its first
real token.

Transfer learning shares the body, `CausalTransformer`: `TransformerLM` adds the output layer
over the vocabulary (pretrained as a plain language model by ``language_model``), and
`TransformerClassifier` a classification head over the mean of the final states.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from attnlab.nn.attention import additive_mask
from attnlab.nn.decoding import IncrementalDecoder
from attnlab.nn.transformer import EncoderBlock, PositionalEncoding, _embedding, _norm


class CausalBlock(EncoderBlock):
    """Masked self-attention and MLP; ``prefill`` and ``step`` keep the keys and values."""

    def prefill(
        self, x: Tensor, mask: Tensor, need_weights: bool = False
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """The whole prompt x (B, P, D) under an additive mask (B, 1, P, P) -> x, K, V, and the
        weights (B, h, P, P) when asked (the explicit path; the fused kernel otherwise)."""
        h = self.residual[0].before(x)
        q, k, v = self.attention.project(h, h, h)
        y, weights = self.attention.attend(
            q, k, v, mask, need_weights=need_weights, average_attn_weights=False
        )
        x = self.residual[0].after(x, y)
        return self.residual[1].after(x, self.feed_forward(self.residual[1].before(x))), k, v, weights

    def step(self, x: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One new position x (B, 1, D) after cached K, V (B, h, P, d_k); mask (B, 1, 1, P + 1)
        hides the prompt's padding -> x, the longer K and V, and the weights (B, h, 1, P + 1)."""
        h = self.residual[0].before(x)
        q, k_new, v_new = self.attention.project(h, h, h)
        k, v = torch.cat([k, k_new], dim=2), torch.cat([v, v_new], dim=2)
        y, weights = self.attention.attend(q, k, v, mask, need_weights=True, average_attn_weights=False)
        x = self.residual[0].after(x, y)
        return self.residual[1].after(x, self.feed_forward(self.residual[1].before(x))), k, v, weights


class CausalTransformer(nn.Module):
    """The body that pretraining trains and fine-tuning reuses: token embeddings, positions,
    causal blocks and the final norm. ``EMBEDDINGS`` and ``HEAD`` name the parts that
    ``model.freeze`` and ``model.body_lr`` refer to; a subclass adds its head."""

    EMBEDDINGS = ("embed", "positions")
    HEAD = ""
    has_attention = True

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 128,
        num_heads: int = 4,
        num_layers: int = 4,
        d_ff: int = 512,
        dropout: float = 0.0,
        norm: str = "pre",
        positional: str = "sinusoidal",
        max_len: int = 1024,
        scaled: bool = True,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.embed = _embedding(vocab_size, d_model)
        self.positions = PositionalEncoding(positional, d_model, max_len)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            CausalBlock(d_model, num_heads, d_ff, dropout, norm, scaled) for _ in range(num_layers)
        )
        self.final_norm = _norm("none" if norm in ("post", "none") else norm, d_model)

    def _embed(self, tokens: Tensor, positions: Tensor) -> Tensor:
        x = self.embed(tokens) * math.sqrt(self.d_model)
        return self.dropout(self.positions(x, positions=positions.clamp(min=0)))

    def _mask(self, padding: Tensor, length: int) -> Tensor:
        """Additive (B, 1, L, L): causal, and no key at a padded prompt position."""
        causal = torch.ones(length, length, dtype=torch.bool, device=padding.device).triu(1)
        keys = torch.cat([padding, padding.new_zeros(padding.size(0), length - padding.size(1))], dim=1)
        return additive_mask(causal[None, None] | keys[:, None, None, :], self.embed.weight.dtype)

    def hidden(self, tokens: Tensor, positions: Tensor, mask: Tensor) -> Tensor:
        """tokens (B, L) at ``positions`` (B, L) under ``mask`` -> the final states (B, L, D)."""
        x = self._embed(tokens, positions)
        for block in self.blocks:
            x, _, _, _ = block.prefill(x, mask)
        return self.final_norm(x)

    def _right_padded(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """Positions and mask of right-padded sequences (B, L). The causal mask is the only
        mask: padding comes after every real token, so no real position ever attends to it."""
        padding = tokens.new_zeros(tokens.shape[0], 0, dtype=torch.bool)
        positions = torch.arange(tokens.size(1), device=tokens.device).expand_as(tokens)
        return positions, self._mask(padding, tokens.size(1))

    def causal_hidden(self, tokens: Tensor) -> Tensor:
        """Right-padded sequences (B, L) -> final states (B, L, D)."""
        return self.hidden(tokens, *self._right_padded(tokens))

    def self_attention_maps(self, tokens: Tensor) -> dict[str, list[Tensor]]:
        """Per-layer, per-head causal self-attention (B, h, L, L) over right-padded tokens, for
        plots: the explicit path, run on the plotted examples only."""
        positions, mask = self._right_padded(tokens)
        x, maps = self._embed(tokens, positions), []
        for block in self.blocks:
            x, _, _, weights = block.prefill(x, mask, need_weights=True)
            maps.append(weights)
        return {"causal self": maps}


class TransformerLM(CausalTransformer, IncrementalDecoder):
    """Decoder-only Transformer with the interface of attnlab.nn.Seq2Seq; ``language_model``
    gives next-token logits of plain text, for pretraining."""

    HEAD = "out"

    def __init__(self, vocab_size: int, **body: Any) -> None:
        super().__init__(vocab_size, **body)
        self.out = nn.Linear(self.d_model, vocab_size)

    def _prompt(self, src: Tensor, src_len: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Left-pad the source -> tokens (B, S), padding (B, S) True at pads, shift (B,)."""
        S = src.size(1)
        shift = S - src_len
        index = torch.arange(S, device=src.device) - shift[:, None]
        padding = index < 0
        return src.gather(1, index.clamp(min=0)).masked_fill(padding, 0), padding, shift

    def language_model(self, tokens: Tensor) -> Tensor:
        """Right-padded text (B, L) -> logits (B, L, V) of each next token."""
        return self.out(self.causal_hidden(tokens))

    def forward(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher forcing: logits (B, T, V) for the target positions only."""
        prompt, padding, shift = self._prompt(src, src_len)
        tokens = torch.cat([prompt, tgt_in], dim=1)
        positions = torch.arange(tokens.size(1), device=src.device) - shift[:, None]
        mask = self._mask(padding, tokens.size(1))
        return self.out(self.hidden(tokens, positions, mask)[:, src.size(1) :])

    def start(self, src: Tensor, src_len: Tensor) -> dict:
        prompt, padding, shift = self._prompt(src, src_len)
        positions = torch.arange(src.size(1), device=src.device) - shift[:, None]
        x = self._embed(prompt, positions)
        cache = []
        for block in self.blocks:
            x, k, v, _ = block.prefill(x, self._mask(padding, src.size(1)))
            cache.append((k, v))
        return {"cache": cache, "padding": padding, "next": src_len.clone()}

    def step(self, state: dict, tokens: Tensor) -> tuple[Tensor, Tensor, dict]:
        """One token (B,) -> logits (B, V), the last layer's attention over the source averaged
        over heads (B, S) as the alignment, new state."""
        padding, S = state["padding"], state["padding"].size(1)
        generated = state["cache"][0][0].size(2) + 1 - S  # positions after the prompt, this one too
        keys_padding = torch.cat([padding, padding.new_zeros(len(padding), generated)], dim=1)
        mask = additive_mask(keys_padding, self.embed.weight.dtype)[:, None, None, :]
        x = self._embed(tokens[:, None], state["next"][:, None])
        cache = []
        for block, (k, v) in zip(self.blocks, state["cache"], strict=True):
            x, k, v, weights = block.step(x, k, v, mask)
            cache.append((k, v))
        alignment = weights.mean(dim=1)[:, 0, :S]  # over the source columns
        alignment = _unshift(alignment, S - (~padding).sum(1))
        logits = self.out(self.final_norm(x))[:, 0]
        return logits, alignment, {"cache": cache, "padding": padding, "next": state["next"] + 1}

    def reorder(self, state: dict, index: Tensor) -> dict:
        pick = lambda t: t.index_select(0, index)  # noqa: E731
        return {
            "cache": [(pick(k), pick(v)) for k, v in state["cache"]],
            "padding": pick(state["padding"]),
            "next": pick(state["next"]),
        }


class TransformerClassifier(CausalTransformer):
    """The causal body with a classification head: logits = W mean_t h_t + b, the mean of the
    final states over each sequence's own positions."""

    HEAD = "head"

    def __init__(self, num_classes: int, vocab_size: int, **body: Any) -> None:
        super().__init__(vocab_size, **body)
        self.head = nn.Linear(self.d_model, num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Right-padded tokens (B, L) and their lengths (B,) -> class logits (B, C)."""
        h = self.causal_hidden(tokens)  # (B, L, D)
        real = (torch.arange(tokens.size(1), device=tokens.device) < lengths[:, None]).to(h.dtype)
        return self.head((h * real[..., None]).sum(1) / lengths[:, None].to(h.dtype))


def _unshift(left_aligned: Tensor, shift: Tensor) -> Tensor:
    """Columns of a left-padded prompt back to the source's own (right-padded) columns."""
    S = left_aligned.size(1)
    index = (torch.arange(S, device=shift.device) + shift[:, None]).clamp(max=S - 1)
    valid = torch.arange(S, device=shift.device) < (S - shift)[:, None]
    return left_aligned.gather(1, index).masked_fill(~valid, 0.0)
