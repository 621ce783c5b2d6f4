"""RNN attention scores: the equations, the softmax over valid positions, masks that mask."""

from __future__ import annotations

import pytest
import torch

from attnlab.nn import AdditiveAttention, DotAttention, GeneralAttention

B, S, H = 3, 7, 16


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(B, H, generator=g)
    states = torch.randn(B, S, H, generator=g)
    lengths = torch.tensor([7, 4, 1])
    mask = torch.arange(S) < lengths[:, None]
    return query, states, mask


@pytest.mark.parametrize("cls", [AdditiveAttention, DotAttention, GeneralAttention])
def test_weights_sum_to_one_and_padding_gets_exactly_zero(cls):
    attention = cls(H, H)
    query, states, mask = _inputs()
    context, weights = attention(query, attention.project_keys(states), states, mask)
    assert torch.allclose(weights.sum(-1), torch.ones(B))
    assert (weights[~mask] == 0).all()
    assert (weights[mask] > 0).all()
    assert torch.allclose(weights[2, 0], torch.tensor(1.0))  # one valid position takes it all
    assert torch.allclose(context, torch.einsum("bs,bsh->bh", weights, states), atol=1e-6)


@pytest.mark.parametrize("cls", [AdditiveAttention, DotAttention, GeneralAttention])
def test_padded_states_cannot_change_the_output(cls):
    attention = cls(H, H)
    query, states, mask = _inputs()
    noisy = states.clone()
    noisy[~mask] = 1e4 * torch.randn(int((~mask).sum()), H)
    out = attention(query, attention.project_keys(states), states, mask)
    out_noisy = attention(query, attention.project_keys(noisy), noisy, mask)
    torch.testing.assert_close(out, out_noisy)


def test_additive_score_is_bahdanaus_equation():
    attention = AdditiveAttention(H, H)
    query, states, mask = _inputs()
    _, weights = attention(query, attention.project_keys(states), states, mask)
    W, U, v = attention.W.weight, attention.U.weight, attention.v.weight[0]
    e = torch.stack(
        [
            torch.stack(
                [v @ torch.tanh(W @ query[b] + U @ states[b, i] + attention.U.bias) for i in range(S)]
            )
            for b in range(B)
        ]
    )
    expected = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=-1)
    torch.testing.assert_close(weights, expected)


def test_dot_and_general_scores():
    query, states, mask = _inputs()
    dot = DotAttention(H, H)
    _, weights = dot(query, dot.project_keys(states), states, mask)
    expected = torch.softmax(torch.einsum("bh,bsh->bs", query, states).masked_fill(~mask, float("-inf")), -1)
    torch.testing.assert_close(weights, expected)

    general = GeneralAttention(H, H)
    _, weights = general(query, general.project_keys(states), states, mask)
    scores = torch.einsum("bh,hk,bsk->bs", query, general.W.weight, states)
    torch.testing.assert_close(weights, torch.softmax(scores.masked_fill(~mask, float("-inf")), -1))
    with pytest.raises(ValueError, match="query_dim == key_dim"):
        DotAttention(H, H + 1)
