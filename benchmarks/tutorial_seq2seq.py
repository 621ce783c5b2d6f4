"""The baseline: an attention seq2seq written as in PyTorch's "NLP From Scratch: translation with
a sequence to sequence network and attention" tutorial. The decoder calls a one-step GRU per
target position, re-projects the encoder keys at every step, embeds and projects to the
vocabulary step by step. Sizes match attnlab's Seq2Seq for a fair comparison."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class EncoderRNN(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.gru = nn.GRU(embed_dim, hidden_size, batch_first=True)

    def forward(self, src: Tensor) -> tuple[Tensor, Tensor]:
        return self.gru(self.embedding(src))


class BahdanauAttention(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query: Tensor, keys: Tensor) -> tuple[Tensor, Tensor]:
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))  # keys projected every step
        weights = F.softmax(scores.squeeze(2).unsqueeze(1), dim=-1)
        return torch.bmm(weights, keys), weights


class AttnDecoderRNN(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.attention = BahdanauAttention(hidden_size)
        self.gru = nn.GRU(embed_dim + hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, encoder_outputs: Tensor, encoder_hidden: Tensor, target: Tensor) -> Tensor:
        batch_size = encoder_outputs.size(0)
        decoder_input = torch.zeros(batch_size, 1, dtype=torch.long)
        decoder_hidden = encoder_hidden
        outputs = []
        for i in range(target.size(1)):  # teacher forcing
            output, decoder_hidden = self.forward_step(decoder_input, decoder_hidden, encoder_outputs)
            outputs.append(output)
            decoder_input = target[:, i].unsqueeze(1)
        return F.log_softmax(torch.cat(outputs, dim=1), dim=-1)

    def forward_step(self, input: Tensor, hidden: Tensor, encoder_outputs: Tensor) -> tuple[Tensor, Tensor]:
        embedded = self.embedding(input)
        query = hidden.permute(1, 0, 2)
        context, _ = self.attention(query, encoder_outputs)
        output, hidden = self.gru(torch.cat((embedded, context), dim=2), hidden)
        return self.out(output), hidden


class TutorialSeq2Seq(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 128) -> None:
        super().__init__()
        self.encoder = EncoderRNN(vocab_size, embed_dim, hidden_size)
        self.decoder = AttnDecoderRNN(vocab_size, embed_dim, hidden_size)

    def forward(self, src: Tensor, target: Tensor) -> Tensor:
        encoder_outputs, encoder_hidden = self.encoder(src)
        return self.decoder(encoder_outputs, encoder_hidden, target)
