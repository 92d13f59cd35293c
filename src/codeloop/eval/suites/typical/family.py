"""What a family of typical questions is: a few fixed questions, then question makers taken in turn,
each asking in two ways, plainly or asking for code; and the exact rounding their answers share."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from codeloop.eval.items import AnswerKind, Attachment


@dataclass(frozen=True)
class Draft:
    """An item before it has an id."""

    question: str
    expected: str
    kind: AnswerKind = "number"
    data: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


# Draws a question from the item's own generator; `coded` asks for it in words such as "compute",
# "use code" or "write a program", the other half of the items asking as if code did not exist.
Maker = Callable[[random.Random, bool], Draft]


@dataclass(frozen=True)
class Family:
    name: str
    makers: tuple[Maker, ...]
    fixed: tuple[Draft, ...] = ()  # the family's first items, asked as given

    def draft(self, index: int) -> Draft:
        """Item `index` of the family, from its own seed: the same whatever the suite's size.

        Makers are taken in turn; each asks plainly on one pass over them and for code on the next,
        so both ways reach every maker."""
        if index < len(self.fixed):
            return self.fixed[index]
        rng = random.Random(f"typical-{self.name}-{index}")
        turn, maker = divmod(index, len(self.makers))
        return self.makers[maker](rng, turn % 2 == 1)


def ask(coded: bool, plain: str, with_code: str) -> str:
    return with_code if coded else plain


# Float arithmetic, a sloppier constant or the other rounding rule may move a value this close to
# halfway between two answers (a thousandth of the last place asked for) to either side: such draws
# are made again.
_CLEARANCE = Decimal("0.001")


def rounded(value: Fraction | Decimal | float | int, places: int) -> str | None:
    """`value` to `places` decimals ("12.30"), or None when it lies too near a halfway point to say."""
    with localcontext() as context:
        context.prec = 60
        exact = _decimal(value)
        unit = Decimal(1).scaleb(-places)
        remainder = (exact / unit) % 1
        if abs(abs(remainder) - Decimal("0.5")) < _CLEARANCE:
            return None
        answer = exact.quantize(unit, rounding=ROUND_HALF_UP)
    return f"{answer:f}" if answer else f"{Decimal(0).quantize(unit):f}"


def _decimal(value: Fraction | Decimal | float | int) -> Decimal:
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(value)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def places_word(places: int) -> str:
    """In words, so that a reply which repeats it ("8.053, to three decimal places") ends on its answer."""
    return {1: "one decimal place", 2: "two decimal places", 3: "three decimal places"}[places]
