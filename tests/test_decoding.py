"""Greedy decoding and beam search, shared by every encoder-decoder."""

from __future__ import annotations

import itertools

import pytest
import torch

from attnlab.data import BOS, EOS, Batch, decoder_inputs, generate
from attnlab.nn import Seq2Seq, Transformer, TransformerLM

VOCAB = 14
MODELS = ["fixed", "attention-lstm", "transformer", "transformer-lm"]


def _models():
    torch.manual_seed(0)
    yield Seq2Seq(VOCAB, embed_dim=8, hidden_size=16, attention=None).eval()
    yield Seq2Seq(VOCAB, embed_dim=8, hidden_size=16, attention="additive", rnn="lstm").eval()
    yield Transformer(
        VOCAB, d_model=16, num_heads=2, num_encoder_layers=1, num_decoder_layers=1, d_ff=32
    ).eval()
    yield TransformerLM(VOCAB, d_model=16, num_heads=2, num_layers=2, d_ff=32).eval()


def _batch(n=3) -> Batch:
    g = torch.Generator().manual_seed(4)
    return Batch(*generate("reverse", torch.tensor([3, 5, 4][:n]), g))


def _score(model, batch: Batch, outputs: torch.Tensor) -> torch.Tensor:
    """Sum of log-probabilities up to and including the first EOS (EOS after it costs nothing)."""
    tgt_in = decoder_inputs(outputs)
    n = len(outputs)
    log_probs = torch.log_softmax(model(batch.src.repeat(n, 1), batch.src_len.repeat(n), tgt_in), dim=-1)
    picked = log_probs.gather(2, outputs[..., None]).squeeze(-1)
    after_eos = (outputs == EOS).long().cumsum(1) - (outputs == EOS).long() > 0
    return picked.masked_fill(after_eos, 0.0).sum(1)


@pytest.mark.parametrize("model", list(_models()), ids=MODELS)
def test_beam_of_one_is_greedy(model):
    batch = _batch()
    greedy, _ = model.greedy(batch.src, batch.src_len, 6, BOS)
    assert torch.equal(model.beam_search(batch.src, batch.src_len, 6, BOS, EOS, beam_size=1), greedy)


@pytest.mark.parametrize("model", list(_models()), ids=MODELS)
def test_a_wide_enough_beam_finds_the_best_sequence(model):
    """With beam_size >= V^(steps-1) nothing is pruned: beam search must equal brute force."""
    batch = _batch(n=1)
    steps = 3
    found = model.beam_search(batch.src, batch.src_len, steps, BOS, EOS, beam_size=VOCAB ** (steps - 1))
    every = torch.tensor(list(itertools.product(range(VOCAB), repeat=steps)))
    after_eos = ((every == EOS).long().cumsum(1) - (every == EOS).long()) > 0
    valid = ~(after_eos & (every != EOS)).any(1)  # after EOS only EOS may follow
    every = every[valid]
    best = every[_score(model, batch, every).argmax()]
    assert torch.equal(found[0], best), (found, best)
    greedy, _ = model.greedy(batch.src, batch.src_len, steps, BOS)
    assert _score(model, batch, found) >= _score(model, batch, greedy) - 1e-6
