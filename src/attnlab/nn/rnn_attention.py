"""Attention for RNN seq2seq: a decoder state (the query) scores every encoder state (the keys).

    e_ti = score(s_{t-1}, h_i)        alignment scores
    a_t  = softmax(e_t)               over the valid source positions only
    c_t  = sum_i a_ti h_i             the context for step t

The scores differ by variant; each variant projects the keys once per sequence
(``project_keys``) so that a decoder step only pays for the query's side.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RNNAttention(nn.Module):
    """Masked softmax over scores and the weighted sum of values, shared by every score."""

    def project_keys(self, keys: Tensor) -> Tensor:
        return keys

    def score(self, query: Tensor, keys: Tensor) -> Tensor:  # (B, Dq), (B, S, Dk) -> (B, S)
        raise NotImplementedError

    def forward(self, query: Tensor, keys: Tensor, values: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """query (B, Dq), keys from ``project_keys`` (B, S, Dk), values (B, S, Dv), mask (B, S)
        True at valid positions -> context (B, Dv), alignment (B, S) with exact zeros on padding.
        """
        scores = self.score(query, keys).masked_fill(~mask, float("-inf"))
        alignment = torch.softmax(scores, dim=-1)
        context = torch.bmm(alignment.unsqueeze(1), values).squeeze(1)
        return context, alignment


class AdditiveAttention(RNNAttention):
    """Bahdanau et al. 2015: e_ti = v^T tanh(W s_{t-1} + U h_i)."""

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int | None = None) -> None:
        super().__init__()
        attn_dim = attn_dim or query_dim
        self.W = nn.Linear(query_dim, attn_dim, bias=False)
        self.U = nn.Linear(key_dim, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        return self.U(keys)  # (B, S, A), once per sequence

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return self.v(torch.tanh(keys + self.W(query).unsqueeze(1))).squeeze(-1)


class DotAttention(RNNAttention):
    """Luong et al. 2015, dot: e_ti = s^T h_i (query and key sizes must agree)."""

    def __init__(self, query_dim: int, key_dim: int) -> None:
        super().__init__()
        if query_dim != key_dim:
            raise ValueError(f"dot attention needs query_dim == key_dim, got {query_dim}, {key_dim}")

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)


class GeneralAttention(RNNAttention):
    """Luong et al. 2015, general: e_ti = s^T W h_i, with W h_i computed once per sequence."""

    def __init__(self, query_dim: int, key_dim: int) -> None:
        super().__init__()
        self.W = nn.Linear(key_dim, query_dim, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        return self.W(keys)

    score = DotAttention.score  # s . (W h_i), the projection already applied to the keys


SCORES = {"additive": AdditiveAttention, "dot": DotAttention, "general": GeneralAttention}


def build_rnn_attention(score: str, query_dim: int, key_dim: int) -> RNNAttention:
    if score not in SCORES:
        raise ValueError(f"unknown attention score {score!r}; choose one of {', '.join(SCORES)}")
    return SCORES[score](query_dim, key_dim)
