"""Typical questions, as people ask Gemini's code execution: 10 families of 24, every answer computed.

The families: exact big-number arithmetic, primes and number theory, counting letters and words,
string transforms, dates and weekdays, statistics, unit conversions, algebra and calculus, money
formulas, and questions over an attached CSV or JSON file. Item k of a family comes from its own
generator, `random.Random("typical-<family>-<k>")`, so an item never depends on the suite's size, and
its id, `typical-<family>-<kk>`, says which family it is of. A family opens with its fixed
questions: the seed's "What is the sum of the first 50 prime numbers?" five ways, strawberry's r's,
17 factorial and 14 July 1789.
"""

from __future__ import annotations

from codeloop.eval.items import Item
from codeloop.eval.suites.base import Suite
from codeloop.eval.suites.typical.algebra import ALGEBRA
from codeloop.eval.suites.typical.dates import DATES
from codeloop.eval.suites.typical.family import Family
from codeloop.eval.suites.typical.files import FILES
from codeloop.eval.suites.typical.money import MONEY
from codeloop.eval.suites.typical.numbers import BIGNUM, PRIMES
from codeloop.eval.suites.typical.stats import STATS
from codeloop.eval.suites.typical.units import UNITS
from codeloop.eval.suites.typical.words import LETTERS, STRINGS

__all__ = ["FAMILIES", "PER_FAMILY", "load"]

FAMILIES: tuple[Family, ...] = (
    BIGNUM,
    PRIMES,
    LETTERS,
    STRINGS,
    DATES,
    STATS,
    UNITS,
    ALGEBRA,
    MONEY,
    FILES,
)
PER_FAMILY = 24


def load() -> Suite:
    return Suite("typical", tuple(item(family, index) for family in FAMILIES for index in range(PER_FAMILY)))


def item(family: Family, index: int) -> Item:
    draft = family.draft(index)
    return Item(
        f"typical-{family.name}-{index:02d}",
        draft.question,
        draft.expected,
        draft.kind,
        dict(draft.data),
        draft.attachments,
    )
