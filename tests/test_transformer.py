"""Transformer blocks and the encoder-decoder: norms, positions, causality, the KV cache."""

from __future__ import annotations

import pytest
import torch

from attnlab.data import BOS, decoder_inputs
from attnlab.nn.transformer import NORMS, EncoderBlock, Transformer
from helpers import fit_one_batch, make_batch, token_accuracy

VOCAB = 14


def _small(**kwargs) -> Transformer:
    torch.manual_seed(0)
    config = dict(d_model=32, num_heads=4, num_encoder_layers=2, num_decoder_layers=2, d_ff=64) | kwargs
    return Transformer(VOCAB, **config)


@pytest.mark.parametrize("norm", NORMS)
def test_kv_cache_decoding_equals_full_recomputation(norm):
    model = _small(norm=norm).eval()
    batch = make_batch()
    tokens, alignment = model.greedy(batch.src, batch.src_len, 7, BOS)
    tgt_in = decoder_inputs(tokens)
    full = model(batch.src, batch.src_len, tgt_in)
    assert torch.equal(full.argmax(-1), tokens)

    memory, padding = model.encode(batch.src, batch.src_len)  # and the hidden states, step by step
    block = model.decoder[0]
    x = model._embed(tgt_in)
    expected, _ = block(x, memory, padding)
    cache = block.start_cache(memory, padding)
    stepped = torch.cat([block.step(x[:, t : t + 1], cache)[0] for t in range(x.size(1))], dim=1)
    torch.testing.assert_close(stepped, expected, atol=1e-5, rtol=1e-5)
    assert torch.allclose(alignment.sum(-1), torch.ones(alignment.shape[:2]))
    assert (alignment.masked_select(padding[:, None, :]) == 0).all()


def test_changing_a_later_target_token_never_changes_earlier_outputs():
    model = _small().eval()
    batch = make_batch()
    tgt_in = torch.randint(3, VOCAB, (8, 6))
    changed = tgt_in.clone()
    changed[:, 4:] = torch.randint(3, VOCAB, (8, 2))
    a = model(batch.src, batch.src_len, tgt_in)
    b = model(batch.src, batch.src_len, changed)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_padding_does_not_change_the_encoding():
    model = _small().eval()
    batch = make_batch(n=4, lengths=(3, 9))
    i = int(batch.src_len.argmin())
    n = int(batch.src_len[i])
    memory, _ = model.encode(batch.src, batch.src_len)
    alone, _ = model.encode(batch.src[i : i + 1, :n], batch.src_len[i : i + 1])
    torch.testing.assert_close(memory[i, :n], alone[0], atol=1e-5, rtol=1e-5)


def test_positions_break_permutation_equivariance():
    block = EncoderBlock(32, 4, 64, 0.0, "pre", True).eval()
    x = torch.randn(1, 6, 32)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    torch.testing.assert_close(block(x[:, perm])[0], block(x)[0][:, perm], atol=1e-5, rtol=1e-5)

    for positional, equivariant in (("none", True), ("sinusoidal", False), ("learned", False)):
        model = _small(positional=positional).eval()
        src = torch.randint(3, VOCAB, (1, 6))
        memory, _ = model.encode(src, torch.tensor([6]))
        permuted, _ = model.encode(src[:, perm], torch.tensor([6]))
        assert torch.allclose(permuted, memory[:, perm], atol=1e-5) == equivariant, positional


def test_positions_past_the_table_fail_clearly():
    model = _small(max_len=8)
    with pytest.raises(ValueError, match=r"position 9 is past the positional table \(max_len=8\)"):
        model.encode(torch.randint(3, VOCAB, (1, 10)), torch.tensor([10]))


@pytest.mark.parametrize("norm", NORMS)
def test_every_norm_variant_learns_a_tiny_batch(norm):
    model = _small(norm=norm, num_encoder_layers=1, num_decoder_layers=1)
    batch = make_batch(n=16, lengths=(3, 5), seed=1)
    preds, loss = fit_one_batch(model, batch, steps=400, lr=3e-3)
    assert token_accuracy(preds, batch) == 1.0, (norm, loss)
