"""Seq2seq networks and their LightningModule: shapes, padding, decoding, learning."""

from __future__ import annotations

import pytest
import torch

from attnlab.data import BOS, EOS, decoder_inputs
from attnlab.nn import Seq2Seq
from helpers import fit_one_batch, make_batch, token_accuracy

VOCAB = 14


@pytest.mark.parametrize("rnn", ["gru", "lstm"])
@pytest.mark.parametrize("attention", [None, "additive", "dot", "general"])
def test_shapes(rnn, attention):
    net = Seq2Seq(VOCAB, embed_dim=8, hidden_size=16, rnn=rnn, attention=attention)
    batch = make_batch()
    logits = net(batch.src, batch.src_len, decoder_inputs(batch.tgt))
    assert logits.shape == (*batch.tgt.shape, VOCAB)
    tokens, alignment = net.greedy(batch.src, batch.src_len, 5, BOS)
    assert tokens.shape == (len(batch.src), 5)
    if attention is None:
        assert alignment is None
    else:
        assert alignment.shape == (len(batch.src), 5, batch.src.size(1))
        valid = torch.arange(batch.src.size(1)) < batch.src_len[:, None]
        assert (alignment.masked_select(~valid[:, None, :]) == 0).all()


@pytest.mark.parametrize("attention", [None, "additive"])
def test_output_does_not_depend_on_padding(attention):
    """An example decodes the same alone as in a batch padded to a longer example."""
    torch.manual_seed(0)
    net = Seq2Seq(VOCAB, embed_dim=8, hidden_size=16, attention=attention).eval()
    batch = make_batch(n=4, lengths=(3, 9))
    longest = int(batch.src_len.argmax())
    short = int(batch.src_len.argmin())
    assert batch.src_len[short] < batch.src_len[longest]
    tgt_in = decoder_inputs(batch.tgt)
    together = net(batch.src, batch.src_len, tgt_in)[short]
    n = int(batch.src_len[short])
    alone = net(batch.src[short : short + 1, :n], batch.src_len[short : short + 1], tgt_in[short : short + 1])
    torch.testing.assert_close(together, alone[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attention", [None, "additive"])
def test_greedy_agrees_with_teacher_forcing_on_its_own_outputs(attention):
    torch.manual_seed(0)
    net = Seq2Seq(VOCAB, embed_dim=8, hidden_size=16, attention=attention).eval()
    batch = make_batch()
    tokens, _ = net.greedy(batch.src, batch.src_len, 6, BOS)
    logits = net(batch.src, batch.src_len, decoder_inputs(tokens))
    assert torch.equal(logits.argmax(-1), tokens)


def test_attention_model_overfits_a_tiny_batch():
    torch.manual_seed(0)
    net = Seq2Seq(VOCAB, embed_dim=32, hidden_size=64, attention="additive")
    batch = make_batch(n=16, lengths=(4, 7), seed=3)
    preds, loss = fit_one_batch(net, batch, steps=150, lr=0.01)
    assert token_accuracy(preds, batch) == 1.0, loss
    assert (preds.gather(1, (batch.tgt_len - 1)[:, None]) == EOS).all()
