"""The attention layer (lecture point 4): many queries at once, learned key and value projections,
scaled dot-product similarity, several heads.

    Q = X_q W_q,  K = X_kv W_k,  V = X_kv W_v                     (per head, d_k = d_model / h)
    A = softmax(Q K^T / sqrt(d_k) + M)                             M: 0 where allowed, -inf where masked
    Y = concat_h(A_h V_h) W_o

Self-attention is X_q = X_kv. Masks follow torch.nn.MultiheadAttention: a boolean mask is True
where attending is NOT allowed; a float mask is added to the scores. The work goes through
F.scaled_dot_product_attention (flash kernels where eligible); the weights A are materialised
only when asked for (need_weights=True), for plots.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def additive_mask(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """A 'True = masked' boolean mask or an additive float mask, as an additive float mask."""
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    return mask.to(dtype)


class MultiHeadAttention(nn.Module):
    """Batch-first multi-head attention: (B, T, D) queries, (B, S, D) keys and values."""

    def __init__(
        self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True, scaled: bool = True
    ) -> None:
        super().__init__()
        if num_heads < 1 or d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
        self.d_model, self.num_heads, self.head_dim = d_model, num_heads, d_model // num_heads
        self.dropout, self.scaled = dropout, scaled
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)  # W_q, W_k, W_v stacked
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    @property
    def scale(self) -> float:
        return 1 / math.sqrt(self.head_dim) if self.scaled else 1.0

    def project_query(self, query: Tensor) -> Tensor:
        """Q = X_q W_q as heads (B, h, T, d_k)."""
        d, b = self.d_model, self.in_proj.bias
        return self._heads(F.linear(query, self.in_proj.weight[:d], None if b is None else b[:d]))

    def project_key_value(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        """K = X W_k and V = X W_v in one matmul, as heads (B, h, S, d_k): for cross-attention,
        computed once per source sequence."""
        d, b = self.d_model, self.in_proj.bias
        kv = F.linear(memory, self.in_proj.weight[d:], None if b is None else b[d:])
        k, v = kv.split(d, dim=-1)
        return self._heads(k), self._heads(v)

    def project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Q, K, V, each (B, h, len, d_k); one fused matmul for self-attention."""
        if query is key and key is value:
            q, k, v = self.in_proj(query).split(self.d_model, dim=-1)
            return self._heads(q), self._heads(k), self._heads(v)
        if key is value:
            return (self.project_query(query), *self.project_key_value(key))
        d, b = self.d_model, self.in_proj.bias
        wk, wv = self.in_proj.weight[d:].split(d)
        bk, bv = (None, None) if b is None else b[d:].split(d)
        k, v = F.linear(key, wk, bk), F.linear(value, wv, bv)
        return self.project_query(query), self._heads(k), self._heads(v)

    def _heads(self, x: Tensor) -> Tensor:
        B, L, _ = x.shape
        return x.view(B, L, self.num_heads, self.head_dim).transpose(1, 2)  # (B, h, L, d_k)

    def _mask(
        self,
        B: int,
        T: int,
        S: int,
        key_padding_mask: Tensor | None,
        attn_mask: Tensor | None,
        is_causal: bool,
        dtype: torch.dtype,
        device: torch.device,
    ) -> Tensor | None:
        """All masks merged into one additive (B|1, h|1, T, S) mask, or None."""
        masks = []
        if key_padding_mask is not None:
            masks.append(additive_mask(key_padding_mask, dtype).view(B, 1, 1, S))
        if attn_mask is not None:
            shape = (1, 1, T, S) if attn_mask.dim() == 2 else (B, self.num_heads, T, S)
            masks.append(additive_mask(attn_mask, dtype).view(shape))
        if is_causal:
            # top-left aligned, as scaled_dot_product_attention's is_causal
            future = torch.ones(T, S, dtype=torch.bool, device=device).triu(1)
            masks.append(additive_mask(future, dtype).view(1, 1, T, S))
        if not masks:
            return None
        merged = masks[0]
        for mask in masks[1:]:
            merged = merged + mask
        return merged

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        *,
        key_padding_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
        average_attn_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """-> output (B, T, D) and, with need_weights, the weights (B, T, S) averaged over heads
        or (B, h, T, S). A query whose keys are all masked gets a zero output, never NaN."""
        B, T, _ = query.shape
        q, k, v = self.project(query, key, value)
        # A causal mask alone goes to the kernel as is_causal, which needs no mask tensor.
        kernel_causal = is_causal and key_padding_mask is None and attn_mask is None and not need_weights
        mask = (
            None
            if kernel_causal
            else self._mask(B, T, key.size(1), key_padding_mask, attn_mask, is_causal, q.dtype, q.device)
        )
        return self.attend(q, k, v, mask, kernel_causal, need_weights, average_attn_weights)

    def attend(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        mask: Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
        average_attn_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Attention over projected heads: q (B, h, T, d_k), k and v (B, h, S, d_k), an additive
        mask (B|1, h|1, T, S) -> output (B, T, D) after W_o, and the weights when asked."""
        dead = None
        if mask is not None:  # rows with nothing to attend to attend anywhere, then give zeros
            dead = torch.isneginf(mask).all(dim=-1, keepdim=True)
            mask = mask.masked_fill(dead, 0.0)
        dropout = self.dropout if self.training else 0.0
        weights = None
        if need_weights:  # the explicit path, for plots: softmax(Q K^T * scale + M) V
            scores = q @ k.transpose(-2, -1) * self.scale  # (B, h, T, S)
            if mask is not None:
                scores = scores + mask
            weights = torch.softmax(scores, dim=-1)
            if dead is not None:
                weights = weights.masked_fill(dead, 0.0)
            out = F.dropout(weights, dropout, self.training) @ v
            if average_attn_weights:
                weights = weights.mean(dim=1)
        else:
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=is_causal, scale=self.scale
            )
        if dead is not None:
            out = out.masked_fill(dead, 0.0)
        B, _, T, _ = q.shape
        return self.out_proj(out.transpose(1, 2).reshape(B, T, self.d_model)), weights  # (B, T, D)

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """The same layer, with the weights of a torch.nn.MultiheadAttention (batch-first or not:
        this layer is always batch-first, so transpose its inputs if the source was not)."""
        if not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn:
            raise ValueError("from_torch supports kdim == vdim == embed_dim, no bias_kv, no zero_attn")
        layer = cls(module.embed_dim, module.num_heads, module.dropout, bias=module.in_proj_bias is not None)
        with torch.no_grad():
            layer.in_proj.weight.copy_(module.in_proj_weight)
            layer.out_proj.weight.copy_(module.out_proj.weight)
            if module.in_proj_bias is not None:
                layer.in_proj.bias.copy_(module.in_proj_bias)
                layer.out_proj.bias.copy_(module.out_proj.bias)
        return layer.to(module.in_proj_weight.device, module.in_proj_weight.dtype)
