"""The attention layer: parity with torch.nn.MultiheadAttention, masks that mask, equivariance."""

from __future__ import annotations

import math

import pytest
import torch

from attnlab.nn.attention import MultiHeadAttention


def _pair(d_model: int, heads: int, batch_first: bool, bias: bool = True):
    torch.manual_seed(d_model * 10 + heads)
    reference = torch.nn.MultiheadAttention(d_model, heads, bias=bias, batch_first=batch_first).eval()
    return reference, MultiHeadAttention.from_torch(reference).eval()


def _call_torch(module, q, k, v, **kwargs):
    if not module.batch_first:
        q, k, v = (x.transpose(0, 1) for x in (q, k, v))
    out, weights = module(q, k, v, **kwargs)
    return (out if module.batch_first else out.transpose(0, 1)), weights


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize(("d_model", "heads", "T", "S"), [(32, 1, 5, 5), (32, 4, 7, 9), (64, 8, 16, 3)])
@pytest.mark.parametrize("kind", ["self", "cross"])
def test_parity_with_torch(batch_first, d_model, heads, T, S, kind):
    reference, layer = _pair(d_model, heads, batch_first)
    B = 3
    x = torch.randn(B, T, d_model)
    memory = x if kind == "self" else torch.randn(B, S, d_model)
    S = memory.size(1)
    padding = torch.zeros(B, S, dtype=torch.bool)
    padding[1, S // 2 + 1 :] = True  # one example with padded keys
    cases = [dict(), dict(key_padding_mask=padding)]
    if kind == "self":
        causal = torch.ones(T, T, dtype=torch.bool).triu(1)
        cases += [dict(causal=causal), dict(causal=causal, key_padding_mask=padding)]
    for case in cases:
        causal = case.pop("causal", None)
        expected, expected_weights = _call_torch(
            reference, x, memory, memory, attn_mask=causal, need_weights=True, **case
        )
        out, weights = layer(x, memory, memory, is_causal=causal is not None, need_weights=True, **case)
        fast, none = layer(x, memory, memory, is_causal=causal is not None, **case)
        assert none is None
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(fast, expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(weights, expected_weights, atol=1e-5, rtol=1e-5)


def test_parity_with_float_and_per_head_masks_and_no_bias():
    reference, layer = _pair(32, 4, batch_first=True, bias=False)
    x = torch.randn(2, 6, 32)
    float_mask = torch.randn(6, 6)
    per_head = torch.rand(2 * 4, 6, 6) < 0.3
    per_head[..., 0] = False  # every query keeps one key
    for mask in (float_mask, per_head):
        expected, _ = reference(x, x, x, attn_mask=mask)
        out, _ = layer(x, x, x, attn_mask=mask)
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    expected, w = reference(x, x, x, need_weights=True, average_attn_weights=False)
    out, weights = layer(x, x, x, need_weights=True, average_attn_weights=False)
    assert weights.shape == (2, 4, 6, 6)
    torch.testing.assert_close(weights, w, atol=1e-5, rtol=1e-5)


def test_weights_match_a_naive_computation_and_sum_to_one():
    layer = MultiHeadAttention(16, 2).eval()
    x = torch.randn(2, 5, 16)
    padding = torch.tensor([[False] * 5, [False, False, False, True, True]])
    _, weights = layer(x, x, x, key_padding_mask=padding, need_weights=True, average_attn_weights=False)
    q, k, v = layer.in_proj(x).split(16, dim=-1)
    q, k = (t.view(2, 5, 2, 8).transpose(1, 2) for t in (q, k))
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(8)
    naive = torch.softmax(scores.masked_fill(padding[:, None, None, :], float("-inf")), dim=-1)
    torch.testing.assert_close(weights, naive)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 5))
    assert (weights[1, :, :, 3:] == 0).all()


def test_unscaled_attention_drops_the_sqrt_dk():
    layer = MultiHeadAttention(16, 1, scaled=False).eval()
    x = torch.randn(1, 4, 16)
    _, weights = layer(x, x, x, need_weights=True)
    q, k, _ = layer.in_proj(x).split(16, dim=-1)
    torch.testing.assert_close(weights, torch.softmax(q @ k.transpose(-2, -1), dim=-1))
    fast, _ = layer(x, x, x)
    slow, _ = layer(x, x, x, need_weights=True)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("need_weights", [False, True])
def test_a_fully_masked_query_gives_zeros_not_nan(need_weights):
    layer = MultiHeadAttention(16, 4)
    x = torch.randn(2, 3, 16, requires_grad=True)
    padding = torch.tensor([[True, True, True], [False, True, True]])  # example 0 has no keys
    out, _ = layer(x, x, x, key_padding_mask=padding, need_weights=need_weights)
    assert torch.isfinite(out).all()
    assert torch.equal(out[0], layer.out_proj.bias.expand(3, 16).detach())  # zero context
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_masks_and_softmax_stay_finite_under_bf16_autocast():
    layer = MultiHeadAttention(16, 4)
    x = torch.randn(2, 5, 16)
    padding = torch.tensor([[True] * 5, [False, False, True, True, True]])  # one row fully masked
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for kwargs in ({}, {"is_causal": True}, {"need_weights": True}):
            out, weights = layer(x, x, x, key_padding_mask=padding, **kwargs)
            assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
            if weights is not None:
                assert torch.isfinite(weights).all() and (weights[1, :, 2:] == 0).all()


def test_self_attention_is_permutation_equivariant():
    layer = MultiHeadAttention(32, 4).eval()
    x = torch.randn(2, 9, 32)
    perm = torch.randperm(9)
    out, _ = layer(x, x, x)
    out_perm, _ = layer(x[:, perm], x[:, perm], x[:, perm])
    torch.testing.assert_close(out_perm, out[:, perm], atol=1e-5, rtol=1e-5)


def test_causal_mask_hides_the_future():
    layer = MultiHeadAttention(32, 4).eval()
    x = torch.randn(1, 8, 32)
    changed = x.clone()
    changed[:, 5:] = torch.randn(1, 3, 32)
    out, _ = layer(x, x, x, is_causal=True)
    out_changed, _ = layer(changed, changed, changed, is_causal=True)
    torch.testing.assert_close(out[:, :5], out_changed[:, :5])
    assert not torch.allclose(out[:, 5:], out_changed[:, 5:])


def test_heads_must_divide_d_model():
    with pytest.raises(ValueError, match=r"d_model \(30\) must be divisible by num_heads \(4\)"):
        MultiHeadAttention(30, 4)
