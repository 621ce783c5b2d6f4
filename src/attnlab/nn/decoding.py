"""Greedy decoding and beam search, written once for every encoder-decoder.

A model takes part by implementing three methods of ``IncrementalDecoder``:
    start(src, src_len)     -> state   (the encoded source and the decoder's initial state)
    step(state, tokens)     -> logits (N, V), alignment (N, S) or None, new state
    reorder(state, index)   -> state   (rows picked or repeated: beams that survive)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class IncrementalDecoder(nn.Module):
    """Base class for models that generate one token at a time."""

    def start(self, src: Tensor, src_len: Tensor) -> Any:
        raise NotImplementedError

    def step(self, state: Any, tokens: Tensor) -> tuple[Tensor, Tensor | None, Any]:
        raise NotImplementedError

    def reorder(self, state: Any, index: Tensor) -> Any:
        raise NotImplementedError

    @torch.no_grad()
    def greedy(self, src: Tensor, src_len: Tensor, steps: int, bos: int) -> tuple[Tensor, Tensor | None]:
        """The most likely token at every step -> tokens (B, steps), alignment (B, steps, S) or None."""
        state = self.start(src, src_len)
        token = torch.full((src.size(0),), bos, dtype=torch.long, device=src.device)
        tokens, alignments = [], []
        for _ in range(steps):
            logits, alignment, state = self.step(state, token)
            token = logits.argmax(-1)
            tokens.append(token)
            alignments.append(alignment)
        aligned = None if alignments[0] is None else torch.stack(alignments, dim=1)
        return torch.stack(tokens, dim=1), aligned

    @torch.no_grad()
    def beam_search(
        self, src: Tensor, src_len: Tensor, steps: int, bos: int, eos: int, beam_size: int
    ) -> Tensor:
        """Keep the ``beam_size`` best partial outputs (sum of log-probabilities) at every step;
        a beam that has emitted EOS keeps emitting EOS at no cost. -> tokens (B, steps)."""
        B, k = src.size(0), beam_size
        rows = torch.arange(B, device=src.device)
        state = self.reorder(self.start(src, src_len), rows.repeat_interleave(k))  # B*k rows
        scores = torch.full((B, k), float("-inf"), device=src.device)
        scores[:, 0] = 0.0  # one live beam at first, so the k copies do not tie
        finished = torch.zeros(B, k, dtype=torch.bool, device=src.device)
        token = torch.full((B * k,), bos, dtype=torch.long, device=src.device)
        history, parents = [], []
        for _ in range(steps):
            logits, _, state = self.step(state, token)
            log_probs = torch.log_softmax(logits.float(), dim=-1).view(B, k, -1)
            done = torch.full_like(log_probs[0, 0], float("-inf"))
            done[eos] = 0.0
            log_probs = torch.where(finished[..., None], done, log_probs)
            vocab = log_probs.size(-1)
            scores, flat = (scores[..., None] + log_probs).view(B, -1).topk(k, dim=-1)  # (B, k)
            parent, token = flat // vocab, flat % vocab
            finished = finished.gather(1, parent) | (token == eos)
            history.append(token)
            parents.append(parent)
            state = self.reorder(state, (parent + rows[:, None] * k).flatten())
            token = token.flatten()
        best = scores.argmax(dim=-1)  # follow the best beam's parents back to the start
        out = []
        for token, parent in zip(reversed(history), reversed(parents), strict=True):
            out.append(token.gather(1, best[:, None]).squeeze(1))
            best = parent.gather(1, best[:, None]).squeeze(1)
        return torch.stack(out[::-1], dim=1)
