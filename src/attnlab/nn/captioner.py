"""Show, Attend and Tell (Xu et al. 2015) on a small CNN: caption an image one word at a time.

The CNN's feature grid gives the annotation vectors a_1..a_L (one per cell, L = H' x W'). At each
word the LSTM decoder attends over them, as the RNN seq2seq decoder attends over source tokens:

    e_ti = v^T tanh(W h_{t-1} + U a_i)      additive scores (``AdditiveAttention``)
    alpha_t = softmax(e_t)                   over the L cells
    z_t = beta_t * sum_i alpha_ti a_i,       beta_t = sigmoid(w_b . h_{t-1})   (the gated context)
    h_t = LSTM([E y_{t-1}; z_t], h_{t-1}),   p(y_t) = softmax(W_o [h_t; z_t; E y_{t-1}])

``context="fixed"`` is the ablation: z_t = the mean of the a_i at every word, one context vector
for the whole caption. Both start from h_0, c_0 = tanh(W (mean a_i)). ``TransformerCaptioner``
puts the Transformer's decoder over the same grid instead of the LSTM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from attnlab.nn.decoding import IncrementalDecoder
from attnlab.nn.rnn_attention import AdditiveAttention
from attnlab.nn.transformer import Transformer
from attnlab.nn.vision import ConvEncoder, sinusoidal_2d

CONTEXTS = ("attention", "fixed")
POSITION_CHANNELS = 16  # of the 2D sinusoidal positions appended to each cell's features


def doubly_stochastic_penalty(alpha: Tensor, mask: Tensor) -> Tensor:
    """Xu et al.'s regulariser sum_i (1 - sum_t alpha_ti)^2, averaged over the batch: every cell
    should receive about one word's worth of attention over the caption.

    alpha (B, T, L) the attention of each output step, mask (B, T) True at the real steps."""
    coverage = (alpha * mask[..., None]).sum(dim=1)  # (B, L)
    return ((1.0 - coverage) ** 2).sum(dim=-1).mean()


class Annotations(NamedTuple):
    values: Tensor  # (B, L, C) a_i, one per grid cell
    keys: Tensor  # (B, L, A) U a_i, projected once per image
    mean: Tensor  # (B, C) the fixed context and the source of the initial state


class Captioner(IncrementalDecoder):
    """CNN encoder (``channels``: one conv block each) to a grid, LSTM decoder with soft attention
    over the grid (``context="attention"``) or the mean-pooled feature (``"fixed"``).

    ``positions=True`` appends 2D sinusoidal positions to each cell's features, so that the
    decoder can tell left from right: the captions are in reading order.
    """

    def __init__(
        self,
        vocab_size: int,
        channels: Sequence[int] = (8, 32, 64),
        embed_dim: int = 64,
        hidden_size: int = 128,
        attention_dim: int = 64,
        context: str = "attention",
        positions: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if context not in CONTEXTS:
            raise ValueError(f"unknown context {context!r}; choose one of {', '.join(CONTEXTS)}")
        self.encoder = ConvEncoder(channels)
        self.positions = POSITION_CHANNELS if positions else 0
        features = self.encoder.out_channels + self.positions
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.init_h = nn.Linear(features, hidden_size)
        self.init_c = nn.Linear(features, hidden_size)
        self.attention = (
            AdditiveAttention(hidden_size, features, attention_dim) if context == "attention" else None
        )
        self.gate = nn.Linear(hidden_size, 1) if context == "attention" else None
        if self.attention is None:  # the same context at every step: one fused call under teacher forcing
            self.decoder = nn.LSTM(embed_dim + features, hidden_size, batch_first=True)
        else:
            self.decoder = nn.LSTMCell(embed_dim + features, hidden_size)
        self.out = nn.Linear(hidden_size + features + embed_dim, vocab_size)

    @property
    def has_attention(self) -> bool:
        return self.attention is not None

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        return self.encoder.grid_size(height, width)

    def annotate(self, images: Tensor) -> Annotations:
        grid = self.encoder(images)  # (B, C, H', W')
        if self.positions:  # concatenated, not added: the CNN's features stay as they are
            table = sinusoidal_2d(self.positions, grid.size(2), grid.size(3), grid.device)
            grid = torch.cat([grid, table.expand(grid.size(0), -1, -1, -1)], dim=1)
        values = grid.flatten(2).transpose(1, 2)  # (B, L, C)
        keys = values if self.attention is None else self.attention.project_keys(values)
        return Annotations(values, keys, values.mean(dim=1))

    def initial_state(self, annotations: Annotations) -> tuple[Tensor, Tensor]:
        return torch.tanh(self.init_h(annotations.mean)), torch.tanh(self.init_c(annotations.mean))

    def _attend(self, h: Tensor, annotations: Annotations) -> tuple[Tensor, Tensor]:
        """-> the gated context z_t (B, C) and alpha_t (B, L)."""
        every_cell = torch.ones(h.size(0), annotations.values.size(1), dtype=torch.bool, device=h.device)
        context, alpha = self.attention(h, annotations.keys, annotations.values, every_cell)
        return torch.sigmoid(self.gate(h)) * context, alpha

    def forward(
        self, images: Tensor, num_digits: Tensor, tgt_in: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor | None]:
        """Teacher forcing: images (B, 1, H, W), decoder inputs (B, T) -> logits (B, T, V), and
        with ``return_attention`` also alpha (B, T, L) (None for the fixed context)."""
        annotations = self.annotate(images)
        state = self.initial_state(annotations)
        embedded = self.dropout(self.embed(tgt_in))  # (B, T, E)
        alphas = None
        if self.attention is None:
            context = annotations.mean.unsqueeze(1).expand(-1, tgt_in.size(1), -1)
            states, _ = self.decoder(torch.cat([embedded, context], dim=-1), tuple(s[None] for s in state))
        else:
            hiddens, contexts, alphas = [], [], []
            for t in range(tgt_in.size(1)):
                context, alpha = self._attend(state[0], annotations)
                state = self.decoder(torch.cat([embedded[:, t], context], dim=-1), state)
                hiddens.append(state[0])
                contexts.append(context)
                alphas.append(alpha)
            states, context, alphas = (torch.stack(x, dim=1) for x in (hiddens, contexts, alphas))
        logits = self.out(self.dropout(torch.cat([states, context, embedded], dim=-1)))
        return (logits, alphas) if return_attention else logits

    # --- IncrementalDecoder: greedy decoding and beam search -------------------------------------

    def start(self, src: Tensor, src_len: Tensor) -> tuple[Annotations, tuple[Tensor, Tensor]]:
        annotations = self.annotate(src)
        return annotations, self.initial_state(annotations)

    def step(self, state: tuple, tokens: Tensor) -> tuple[Tensor, Tensor | None, tuple]:
        annotations, (h, c) = state
        embedded = self.embed(tokens)
        if self.attention is None:
            context, alpha = annotations.mean, None
        else:
            context, alpha = self._attend(h, annotations)
        inputs = torch.cat([embedded, context], dim=-1)
        if self.attention is None:  # nn.LSTM, one step long
            _, (h, c) = self.decoder(inputs[:, None], (h[None], c[None]))
            h, c = h[0], c[0]
        else:
            h, c = self.decoder(inputs, (h, c))
        logits = self.out(torch.cat([h, context, embedded], dim=-1))
        return logits, alpha, (annotations, (h, c))

    def reorder(self, state: tuple, index: Tensor) -> tuple:
        annotations, hidden = state
        annotations = Annotations(*(t.index_select(0, index) for t in annotations))
        return annotations, tuple(s.index_select(0, index) for s in hidden)


class TransformerCaptioner(Transformer):
    """The Transformer's decoder attending over the CNN's grid: the cells, projected to
    ``d_model`` with 2D sinusoidal positions added, take the place of the encoder's output.

    Decoding (key/value cache, beam search) is the Transformer's; the alignment of a step is the
    last layer's cross-attention averaged over heads. ``max_len`` bounds the caption's length
    (its positional table). The doubly stochastic regulariser is Xu et al.'s for the LSTM's soft
    attention and is not applied here.
    """

    def __init__(
        self,
        vocab_size: int,
        channels: Sequence[int] = (8, 32, 64),
        d_model: int = 64,
        num_heads: int = 4,
        num_layers: int = 2,
        d_ff: int = 256,
        dropout: float = 0.0,
        norm: str = "pre",
        max_len: int = 64,
    ) -> None:
        super().__init__(vocab_size, d_model, num_heads, 0, num_layers, d_ff, dropout, norm, max_len=max_len)
        self.cnn = ConvEncoder(channels)
        self.project = nn.Conv2d(self.cnn.out_channels, d_model, 1)  # each cell to d_model

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        return self.cnn.grid_size(height, width)

    def encode(self, src: Tensor, src_len: Tensor) -> tuple[Tensor, None]:
        """images (B, 1, H, W) -> memory (B, L, d_model), no padding: every cell is real."""
        grid = self.project(self.cnn(src))
        grid = grid + sinusoidal_2d(grid.size(1), grid.size(2), grid.size(3), grid.device)
        return self.encoder_norm(grid.flatten(2).transpose(1, 2)), None

    def forward(
        self, images: Tensor, num_digits: Tensor, tgt_in: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, None]:
        logits = super().forward(images, num_digits, tgt_in)
        return (logits, None) if return_attention else logits

    def attention_maps(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> dict[str, list[Tensor]]:
        """The Transformer's per-head maps embed a token source; an image has none."""
        raise NotImplementedError("TransformerCaptioner draws its cross-attention over the image instead")
