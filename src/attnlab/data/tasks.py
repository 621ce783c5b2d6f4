"""Generated sequence tasks: copy, reverse, sort and add.

Every task maps a source sequence of digit tokens to a target sequence. Generation is vectorized
over examples and driven by an explicit ``torch.Generator``, so the same seed gives the same data
in every process, whatever the global RNG state is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<s>", "</s>")
SYMBOLS = "0123456789+"
VOCAB: tuple[str, ...] = SPECIALS + tuple(SYMBOLS)
DIGIT0 = len(SPECIALS)  # token id of the digit 0
PLUS = DIGIT0 + 10


class Examples(NamedTuple):
    """A set of examples, right-padded with PAD. ``tgt`` ends with EOS."""

    src: Tensor  # (N, S) int64
    src_len: Tensor  # (N,)
    tgt: Tensor  # (N, T) int64
    tgt_len: Tensor  # (N,) counts the EOS


def decoder_inputs(tgt: Tensor) -> Tensor:
    """Teacher forcing: the decoder reads BOS, y_1, ..., y_{T-1} to predict y_1, ..., y_T."""
    return torch.cat([torch.full_like(tgt[:, :1], BOS), tgt[:, :-1]], dim=1)


def decode(tokens: Tensor | list[int], vocab: tuple[str, ...] = VOCAB) -> list[str]:
    """Token ids to their symbols, stopping at EOS and skipping PAD and BOS."""
    out = []
    for t in tokens.tolist() if isinstance(tokens, Tensor) else tokens:
        if t == EOS:
            break
        if t not in (PAD, BOS):
            out.append(vocab[t])
    return out


def _positions(lengths: Tensor, width: int) -> tuple[Tensor, Tensor]:
    pos = torch.arange(width).expand(len(lengths), width)
    return pos, pos < lengths[:, None]


def _random_digits(lengths: Tensor, g: torch.Generator) -> Tensor:
    """Digits 0-9 (not tokens) in a (N, max_len) tensor, -1 past each length."""
    width = int(lengths.max())
    digits = torch.randint(0, 10, (len(lengths), width), generator=g)
    _, valid = _positions(lengths, width)
    return digits.masked_fill(~valid, -1)


def _left_align(right: Tensor, lengths: Tensor) -> Tensor:
    """Move the last ``lengths[i]`` columns of row i to its front; -1 fills the rest."""
    width = right.size(1)
    pos, valid = _positions(lengths, width)
    index = (width - lengths[:, None] + pos).clamp(max=width - 1)
    return right.gather(1, index).masked_fill(~valid, -1)


Task = Callable[[Tensor, torch.Generator], tuple[Tensor, Tensor, Tensor]]
"""(source lengths, generator) -> (source symbols, target symbols, target lengths).

Symbols are digit values 0-9, 10 for '+', and -1 for padding."""


def _copy(lengths: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    src = _random_digits(lengths, g)
    return src, src, lengths


def _reverse(lengths: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    src = _random_digits(lengths, g)
    pos, valid = _positions(lengths, src.size(1))
    index = (lengths[:, None] - 1 - pos).clamp(min=0)
    return src, src.gather(1, index).masked_fill(~valid, -1), lengths


def _sort(lengths: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    src = _random_digits(lengths, g)
    ordered = src.masked_fill(src < 0, 10).sort(dim=1).values  # padding sorts last
    return src, ordered.masked_fill(ordered == 10, -1), lengths


def _add(lengths: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Source ``a+b`` with len(a) + 1 + len(b) == length; target the digits of a + b."""
    n = len(lengths)
    len_a = lengths // 2  # len_a >= len_b, so the sum has len_a or len_a + 1 digits
    len_b = lengths - 1 - len_a
    cols = int(len_a.max()) + 1  # right-aligned numbers, one spare column for the last carry
    pos = torch.arange(cols).expand(n, cols)

    def number(length: Tensor) -> Tensor:
        first = (cols - length)[:, None]  # column of the leading digit
        digits = torch.randint(0, 10, (n, cols), generator=g)
        leading = torch.randint(1, 10, (n, 1), generator=g)  # no leading zeros...
        digits = torch.where((pos == first) & (length[:, None] > 1), leading, digits)
        return torch.where(pos >= first, digits, 0)  # ...but a lone 0 is allowed

    a, b = number(len_a), number(len_b)
    total = torch.zeros_like(a)
    carry = torch.zeros(n, dtype=torch.long)
    for col in range(cols - 1, -1, -1):  # vectorized over examples, a loop over columns
        s = a[:, col] + b[:, col] + carry
        total[:, col], carry = s % 10, s // 10
    len_sum = len_a + (total.gather(1, (cols - 1 - len_a)[:, None]).squeeze(1) > 0).long()

    a, b = _left_align(a, len_a), _left_align(b, len_b)
    src_pos, valid = _positions(lengths, int(lengths.max()))
    src = torch.where(
        src_pos < len_a[:, None],
        a.gather(1, src_pos.clamp(max=cols - 1)),
        b.gather(1, (src_pos - len_a[:, None] - 1).clamp(min=0, max=cols - 1)),
    )
    src = torch.where(src_pos == len_a[:, None], PLUS - DIGIT0, src).masked_fill(~valid, -1)
    return src, _left_align(total, len_sum), len_sum


TASKS: dict[str, Task] = {
    "copy": _copy,
    "reverse": _reverse,
    "sort": _sort,
    "add": _add,
}
MIN_LENGTH = {"copy": 1, "reverse": 1, "sort": 1, "add": 3}


def _to_tokens(symbols: Tensor) -> Tensor:
    """Digit values (0-9, 10 for '+') to token ids; -1 to PAD."""
    return torch.where(symbols < 0, PAD, symbols + DIGIT0)


def generate(task: str, lengths: Tensor, generator: torch.Generator) -> Examples:
    """Generate one example per entry of ``lengths`` (source lengths)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    src, out, out_len = TASKS[task](lengths.long(), generator)
    tgt_len = out_len + 1
    tgt = torch.full((len(lengths), int(tgt_len.max())), PAD, dtype=torch.long)
    tgt[:, : out.size(1)] = _to_tokens(out[:, : tgt.size(1)])
    tgt.scatter_(1, out_len[:, None], EOS)
    return Examples(_to_tokens(src), lengths, tgt, tgt_len)
