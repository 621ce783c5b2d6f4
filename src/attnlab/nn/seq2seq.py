"""RNN encoder-decoder, with one fixed context vector or with attention (lecture points 1-2).

Encoder: h_i = RNN(x_i, h_{i-1}), bidirectional, so h_i sees the whole source.
Fixed context (Sutskever 2014 / Cho 2014): c = the encoder's final state; the decoder starts
from s_0 = tanh(W_b c) and reads the same c at every step:
    s_t = RNN([y_{t-1}; c], s_{t-1}),      p(y_t) = softmax(W_o [s_t; c; y_{t-1}])
Attention (Bahdanau 2015): the context is recomputed at every step from s_{t-1}:
    c_t = sum_i a_ti h_i,  s_t = RNN([y_{t-1}; c_t], s_{t-1}),  p(y_t) = softmax(W_o [s_t; c_t; y_{t-1}])
The two variants differ only in where c comes from, so an ablation changes nothing else.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnlab.nn.decoding import IncrementalDecoder
from attnlab.nn.rnn_attention import build_rnn_attention

RNNS = {"gru": (nn.GRU, nn.GRUCell), "lstm": (nn.LSTM, nn.LSTMCell)}
State = Tensor | tuple[Tensor, Tensor]  # GRU: h; LSTM: (h, c)


class Memory(NamedTuple):
    """What the encoder hands the decoder."""

    values: Tensor  # (B, S, H) encoder states h_i
    keys: Tensor  # (B, S, A) h_i projected once for the attention score
    mask: Tensor  # (B, S) True at real source positions
    final: Tensor  # (B, H) the fixed-size summary: final forward and backward states


class Encoder(nn.Module):
    def __init__(self, embed_dim: int, hidden_size: int, rnn: str, bidirectional: bool) -> None:
        super().__init__()
        directions = 2 if bidirectional else 1
        self.rnn = RNNS[rnn][0](
            embed_dim, hidden_size // directions, batch_first=True, bidirectional=bidirectional
        )

    def forward(self, embedded: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, S, E), (B,) -> states (B, S, H), final (B, H)."""
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        states, last = self.rnn(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=embedded.size(1))
        h_n = last[0] if isinstance(last, tuple) else last  # (directions, B, H / directions)
        return states, torch.cat(list(h_n), dim=-1)


class Seq2Seq(IncrementalDecoder):
    """Encoder-decoder over one shared token vocabulary.

    ``attention=None`` gives the fixed-context model; ``"additive"``, ``"dot"`` or ``"general"``
    give the attention model with that score.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 64,
        hidden_size: int = 128,
        rnn: str = "gru",
        attention: str | None = "additive",
        bidirectional: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if rnn not in RNNS:
            raise ValueError(f"unknown rnn {rnn!r}; choose one of {', '.join(RNNS)}")
        self.rnn_type = rnn
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.encoder = Encoder(embed_dim, hidden_size, rnn, bidirectional)
        self.bridge = nn.Linear(hidden_size, hidden_size)
        self.attention = (
            None if attention is None else build_rnn_attention(attention, hidden_size, hidden_size)
        )
        if self.attention is None:  # inputs known in advance under teacher forcing: one fused call
            self.decoder = RNNS[rnn][0](embed_dim + hidden_size, hidden_size, batch_first=True)
        else:  # c_t depends on s_{t-1}: one cell call per step
            self.decoder = RNNS[rnn][1](embed_dim + hidden_size, hidden_size)
        self.out = nn.Linear(2 * hidden_size + embed_dim, vocab_size)

    @property
    def has_attention(self) -> bool:
        return self.attention is not None

    def encode(self, src: Tensor, src_len: Tensor) -> Memory:
        values, final = self.encoder(self.dropout(self.embed(src)), src_len)
        keys = values if self.attention is None else self.attention.project_keys(values)
        mask = torch.arange(src.size(1), device=src.device) < src_len[:, None]
        return Memory(values, keys, mask, final)

    def initial_state(self, memory: Memory) -> State:
        s0 = torch.tanh(self.bridge(memory.final))
        return (s0, torch.zeros_like(s0)) if self.rnn_type == "lstm" else s0

    def forward(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher forcing: (B, S), (B,), (B, T) decoder inputs -> logits (B, T, V)."""
        memory = self.encode(src, src_len)
        state = self.initial_state(memory)
        embedded = self.dropout(self.embed(tgt_in))  # (B, T, E)
        if self.attention is None:
            context = memory.final.unsqueeze(1).expand(-1, tgt_in.size(1), -1)  # (B, T, H)
            states, _ = self.decoder(torch.cat([embedded, context], dim=-1), _layered(state))
        else:
            states, contexts = [], []
            for t in range(tgt_in.size(1)):
                state, context, _ = self._attend_step(state, embedded[:, t], memory)
                states.append(_hidden(state))
                contexts.append(context)
            states, context = torch.stack(states, dim=1), torch.stack(contexts, dim=1)
        return self.out(self.dropout(torch.cat([states, context, embedded], dim=-1)))

    def _attend_step(self, state: State, embedded: Tensor, memory: Memory) -> tuple[State, Tensor, Tensor]:
        context, alignment = self.attention(_hidden(state), memory.keys, memory.values, memory.mask)
        return self.decoder(torch.cat([embedded, context], dim=-1), state), context, alignment

    def _fixed_step(self, state: State, embedded: Tensor, memory: Memory) -> tuple[State, Tensor, None]:
        inputs = torch.cat([embedded, memory.final], dim=-1).unsqueeze(1)
        _, new = self.decoder(inputs, _layered(state))
        return _map(new, lambda s: s.squeeze(0)), memory.final, None

    def start(self, src: Tensor, src_len: Tensor) -> tuple[Memory, State]:
        memory = self.encode(src, src_len)
        return memory, self.initial_state(memory)

    def step(self, state: tuple[Memory, State], tokens: Tensor) -> tuple[Tensor, Tensor | None, tuple]:
        """One generated token (B,) -> logits (B, V), alignment (B, S) or None, new state."""
        memory, hidden = state
        embedded = self.embed(tokens)
        step = self._fixed_step if self.attention is None else self._attend_step
        hidden, context, alignment = step(hidden, embedded, memory)
        logits = self.out(torch.cat([_hidden(hidden), context, embedded], dim=-1))
        return logits, alignment, (memory, hidden)

    def reorder(self, state: tuple[Memory, State], index: Tensor) -> tuple[Memory, State]:
        memory, hidden = state
        memory = Memory(*(t.index_select(0, index) for t in memory))
        return memory, _map(hidden, lambda h: h.index_select(0, index))


def _hidden(state: State) -> Tensor:
    return state[0] if isinstance(state, tuple) else state


def _map(state: State, fn) -> State:
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def _layered(state: State) -> State:
    """A cell's state (B, H) as a one-layer RNN module's state (1, B, H)."""
    return _map(state, lambda s: s.unsqueeze(0))
