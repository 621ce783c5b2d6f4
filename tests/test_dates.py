"""data=dates: Babel-rendered dates in several formats and locales -> ISO dates."""

from __future__ import annotations

import calendar
import datetime as dt

import torch

from attnlab.data.dates import DatesDataModule
from attnlab.data.tasks import decode


def _data(seed: int = 0, **kwargs) -> DatesDataModule:
    dm = DatesDataModule(train_size=400, val_size=50, test_size=50, seed=seed, **kwargs)
    dm.setup()
    return dm


def _pairs(dm: DatesDataModule, split: str = "train") -> list[tuple[str, str]]:
    ex = dm.datasets[split].examples
    text = lambda ids: "".join(decode(ids, dm.vocab))  # noqa: E731
    return [(text(ex.src[i]), text(ex.tgt[i])) for i in range(len(ex.src))]


def test_targets_are_the_iso_dates_of_the_sources():
    dm = _data(formats=["EEEE d MMMM y"], locales=["en_US"])  # e.g. "Thursday 3 May 1979"
    for source, target in _pairs(dm):
        date = dt.date.fromisoformat(target)
        weekday, day, month, year = source.split()
        assert (int(day), month, int(year)) == (date.day, calendar.month_name[date.month], date.year)
        assert weekday == calendar.day_name[date.weekday()]


def test_several_formats_and_locales_and_a_shared_vocabulary():
    dm = _data()
    pairs = _pairs(dm)
    sources = {s for s, _ in pairs}
    assert any("." in s for s in sources) and any("/" in s for s in sources)  # numeric formats
    assert any(m in s for s in sources for m in ("mai", "juin", "janv.", "févr.", "mars"))  # French
    assert any(m in s for s in sources for m in ("Mai", "Juni", "März", "Okt."))  # German
    assert all(len(t) == 10 and t[4] == t[7] == "-" for _, t in pairs)
    assert _data(seed=1).vocab == dm.vocab  # fixed by formats and locales, not by the sample


def test_seeded_and_identical_in_every_process():
    a, b, c = _data(0), _data(0), _data(1)
    for x, y in zip(a.datasets["train"].examples, b.datasets["train"].examples, strict=True):
        assert torch.equal(x, y)
    assert _pairs(a) != _pairs(c)
