"""The decoder-only Transformer: causal, padding-blind, cached decoding, learns."""

from __future__ import annotations

import torch

from attnlab.data import BOS, decoder_inputs
from attnlab.nn import TransformerLM
from helpers import fit_one_batch, make_batch, token_accuracy

VOCAB = 14


def _small(**kwargs) -> TransformerLM:
    torch.manual_seed(0)
    return TransformerLM(VOCAB, **(dict(d_model=32, num_heads=4, num_layers=2, d_ff=64) | kwargs))


def test_cached_decoding_equals_full_recomputation():
    model = _small().eval()
    batch = make_batch(n=6, lengths=(3, 7))
    tokens, alignment = model.greedy(batch.src, batch.src_len, 6, BOS)
    full = model(batch.src, batch.src_len, decoder_inputs(tokens))
    assert torch.equal(full.argmax(-1), tokens)
    state = model.start(batch.src, batch.src_len)  # and the logits themselves, step by step
    token = torch.full((6,), BOS)
    for t in range(6):
        logits, _, state = model.step(state, token)
        torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-5)
        token = tokens[:, t]
    padded = torch.arange(batch.src.size(1)) >= batch.src_len[:, None]
    assert (alignment.masked_select(padded[:, None, :]) == 0).all()


def test_a_later_token_never_changes_an_earlier_output():
    model = _small().eval()
    batch = make_batch(n=4)
    tgt_in = torch.randint(3, VOCAB, (4, 6))
    changed = tgt_in.clone()
    changed[:, 3:] = torch.randint(3, VOCAB, (4, 3))
    a = model(batch.src, batch.src_len, tgt_in)
    b = model(batch.src, batch.src_len, changed)
    torch.testing.assert_close(a[:, :3], b[:, :3])
    assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_padding_is_invisible():
    model = _small().eval()
    batch = make_batch(n=4, lengths=(3, 9))
    i = int(batch.src_len.argmin())
    n = int(batch.src_len[i])
    tgt_in = decoder_inputs(batch.tgt)
    together = model(batch.src, batch.src_len, tgt_in)[i]
    alone = model(batch.src[i : i + 1, :n], batch.src_len[i : i + 1], tgt_in[i : i + 1])[0]
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


def test_learns_a_tiny_batch():
    batch = make_batch(n=16, lengths=(3, 5), seed=1)
    preds, loss = fit_one_batch(_small(), batch, steps=300, lr=3e-3)
    assert token_accuracy(preds, batch) == 1.0, loss
