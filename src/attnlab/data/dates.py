"""A translation task with visible alignments: human-readable dates -> ISO YYYY-MM-DD.

Dates are rendered by Babel's CLDR formatting in several formats and locales ("3 May 1979",
"Thursday, May 3, 1979", "03.05.79", "jeudi 3 mai 1979", "Donnerstag, 3. Mai 1979", ...), at the
character level. Year, month and day characters of the output have to find the matching
characters of the input, as words do in the lecture's English-French figure.

The same dates serve transfer learning. ``target="text"`` is an unlabeled corpus for next-token
pretraining: each line writes one date twice, in two formats and locales drawn at random,
``x <s> y </s>`` ("jeudi 3 mai 1979 <s> 05/03/79 </s>"), as text often names a date twice.
Nothing in it is ISO unless ISO is among the formats. ``target="month"`` is a classification
task: the month of each date (12 classes). All three targets share one vocabulary, so a body
pretrained on the corpus fits either downstream task.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cache
from itertools import product

import torch
from babel.dates import format_date
from torch import Tensor

from attnlab.data.datamodule import SequenceDataModule
from attnlab.data.tasks import BOS, EOS, PAD, SPECIALS, Examples

TARGETS = ("iso", "month", "text")
LOCALES = ("en_US", "en_GB", "fr_FR", "de_DE")
FORMATS = ("short", "medium", "long", "full", "d MMM y", "EEEE d MMMM y", "dd.MM.yy", "EEE d MMM yy")
FIRST_DAY = dt.date(1950, 1, 1)
DAYS = (dt.date(2049, 12, 31) - FIRST_DAY).days + 1


def render(day: int, fmt: str, locale: str) -> str:
    """The date FIRST_DAY + day in one format and locale."""
    return format_date(FIRST_DAY + dt.timedelta(days=day), fmt, locale=locale)


@cache
def vocabulary(formats: tuple[str, ...] = FORMATS, locales: tuple[str, ...] = LOCALES) -> tuple[str, ...]:
    """Every character that the default formats and locales and these ones can produce (a leap
    year covers every month, weekday and digit), after the special tokens; the digits and '-'
    of ISO dates included. The defaults are always in, so that any choice among them (a corpus,
    a downstream task) has the same vocabulary and pretrained weights fit."""
    chars = set("0123456789-")
    for day in range(366 * 40, 366 * 41 + 1):  # 1990
        for fmt, locale in {*product(FORMATS, LOCALES), *product(formats, locales)}:
            chars.update(render(day, fmt, locale))
    return SPECIALS + tuple(sorted(chars))


def encode(texts: Sequence[str], vocab: tuple[str, ...], eos: bool) -> tuple[Tensor, Tensor]:
    """Strings -> PAD-padded ids (N, L) and lengths (N,), with EOS appended if asked."""
    index = {ch: i for i, ch in enumerate(vocab)}
    return _pad([[index[ch] for ch in text] + ([EOS] if eos else []) for text in texts])


def encode_lines(pairs: Sequence[tuple[str, str]], vocab: tuple[str, ...]) -> tuple[Tensor, Tensor]:
    """Pairs of strings (x, y) -> the lines ``x <s> y </s>`` as PAD-padded ids, and lengths."""
    index = {ch: i for i, ch in enumerate(vocab)}
    return _pad([[index[ch] for ch in x] + [BOS] + [index[ch] for ch in y] + [EOS] for x, y in pairs])


def _pad(rows: list[list[int]]) -> tuple[Tensor, Tensor]:
    lengths = torch.tensor([len(r) for r in rows])
    ids = torch.full((len(rows), int(lengths.max())), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
    return ids, lengths


class DatesDataModule(SequenceDataModule):
    """Dates in ``formats`` x ``locales``, seeded like every attnlab task, with one of three
    targets: ``"iso"`` the ISO date (a sequence), ``"month"`` its month (a class, 0-11), or
    ``"text"`` the line ``x <s> y </s>``, the date in a second rendering (a corpus for a
    language model, which reads the whole line as ``tgt``)."""

    def __init__(
        self,
        target: str = "iso",
        formats: Sequence[str] = FORMATS,
        locales: Sequence[str] = LOCALES,
        train_size: int = 20_000,
        val_size: int = 1_000,
        test_size: int = 1_000,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        super().__init__(
            task="dates",
            train_size=train_size,
            val_size=val_size,
            test_size=test_size,
            batch_size=batch_size,
            seed=seed,
        )
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
        self.target, self.formats, self.locales = target, tuple(formats), tuple(locales)
        self.vocab = vocabulary(self.formats, self.locales)
        self.test_lengths = []  # exact match is still broken down by source length

    @property
    def net_args(self) -> dict[str, int]:
        return {**super().net_args, **({"num_classes": 12} if self.target == "month" else {})}

    def make_examples(self, split: str, g: torch.Generator) -> Examples:
        n = self.sizes[split]
        days = torch.randint(0, DAYS, (n,), generator=g).tolist()
        fmts = torch.randint(0, len(self.formats), (n,), generator=g).tolist()
        locs = torch.randint(0, len(self.locales), (n,), generator=g).tolist()
        picks = zip(days, fmts, locs, strict=True)
        sources = [render(day, self.formats[f], self.locales[loc]) for day, f, loc in picks]
        order = sorted(range(n), key=lambda i: len(sources[i]))  # sorted: little padding
        src, src_len = encode([sources[i] for i in order], self.vocab, eos=False)
        dates = [FIRST_DAY + dt.timedelta(days=days[i]) for i in order]
        if self.target == "month":
            months = torch.tensor([d.month - 1 for d in dates])
            return Examples(src, src_len, months, torch.ones(n, dtype=torch.long))
        if self.target == "text":  # the same date again, in a format and locale drawn afresh
            fmts = torch.randint(0, len(self.formats), (n,), generator=g).tolist()
            locs = torch.randint(0, len(self.locales), (n,), generator=g).tolist()
            pairs = [
                (sources[i], render(days[i], self.formats[fmts[i]], self.locales[locs[i]])) for i in order
            ]
            return Examples(src, src_len, *encode_lines(pairs, self.vocab))
        tgt, tgt_len = encode([d.isoformat() for d in dates], self.vocab, eos=True)
        return Examples(src, src_len, tgt, tgt_len)
