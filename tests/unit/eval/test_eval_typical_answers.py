"""Every typical answer worked out again from its question's text alone, another way than the suite's
generator: sympy for number theory and algebra, numpy for statistics, scipy's constants for units,
dateutil for dates, plain float formulas for money. (The attached files are checked in
test_eval_typical.py.)"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
import sympy
from dateutil import parser as dates
from scipy import constants
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

from codeloop.eval.items import Item
from codeloop.eval.suites import load_suite

SUITE = load_suite("typical")
PLACES = {
    "one decimal place": 1,
    "two decimal places": 2,
    "three decimal places": 3,
    "the cent": 2,
    "cents": 2,
}


def items_of(family: str) -> list[Item]:
    return [item for item in SUITE.items if item.id.startswith(f"typical-{family}-")]


def found(pattern: str, question: str) -> re.Match[str]:
    match = re.search(pattern, question)
    assert match is not None, f"{pattern!r} not in {question!r}"
    return match


def places(question: str) -> int:
    named = [count for words, count in PLACES.items() if words in question]
    assert len(named) == 1, question
    return named[0]


def to_places(value: float | sympy.Expr, count: int) -> str:
    exact = Decimal(repr(float(value)))
    return str(exact.quantize(Decimal(1).scaleb(-count), rounding=ROUND_HALF_UP))


def integer(text: str) -> int:
    return int(text.replace(",", ""))


def bignum(q: str) -> object:
    if match := re.search(r"(\d+)(?: factorial|!)", q):
        return sympy.factorial(int(match.group(1)))
    if match := re.search(r"(\d+)(?:\^|\*\*)(\d+)", q):
        return sympy.Integer(match.group(1)) ** int(match.group(2))
    if match := re.search(r"([\d,]+)(?: times | \* )([\d,]+)", q):
        return sympy.Integer(integer(match.group(1))) * integer(match.group(2))
    found(r"(?i)add these numbers", q)
    return sum(sympy.Integer(line) for line in q.splitlines()[1:])


WORD_NUMBERS = {"fifty": 50}


def primes(q: str) -> object:
    if match := re.search(r"first (\d+|fifty) prime", q) or re.search(r"sums? the first (\d+) primes", q):
        n = WORD_NUMBERS.get(match.group(1)) or int(match.group(1))
        return sum(sympy.prime(i) for i in range(1, n + 1))
    if match := re.search(r"(\d+)(?:st|nd|rd|th) prime", q):
        return sympy.prime(int(match.group(1)))
    if match := re.search(r"(?:greatest common divisor|GCD|least common multiple|LCM) of ([\d, and]+)", q):
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        return sympy.gcd(numbers) if re.search("GCD|greatest", q) else sympy.lcm(numbers)
    if match := re.search(r"primes? (?:numbers are there )?(?:below|less than) ([\d,]+)", q):
        return sympy.primepi(integer(match.group(1)) - 1)
    if match := re.search(r"digit(?:s| sum) of (?:2\^(\d+)|(\d+)!)", q):
        value = 2 ** int(match.group(1)) if match.group(1) else math.factorial(int(match.group(2)))
        return sum(int(digit) for digit in str(value))
    if match := re.search(r"F\((\d+)\)|(\d+)(?:st|nd|rd|th) Fibonacci", q):
        return sympy.fibonacci(int(match.group(1) or match.group(2)))
    if match := re.search(r"(?:many divisors does|count the divisors of) (\d+)", q):
        return sympy.divisor_count(int(match.group(1)))
    if match := re.search(r"sum of all (?:the )?divisors of (\d+)", q):
        return sympy.divisor_sigma(int(match.group(1)))
    match = found(r"(?:Is|prime factor of) (\d+)", q)
    return min(sympy.factorint(int(match.group(1))))


def letters(q: str) -> object:
    if match := re.fullmatch(r"How many (\w)'s are in (\w+)\?", q):
        return len(re.findall(match.group(1), match.group(2)))
    text = q[q.rindex('"', 0, -2) + 1 : q.rindex('"')]  # the sentence: quoted last
    if "vowels" in q:
        return len(re.findall(r"[aeiou]", text, re.IGNORECASE))
    if "words" in q:
        return len(re.findall(r"\S+", text))
    letter = found(r'letter "(\w)"', q).group(1)
    return len(re.findall(letter, text))


def strings(q: str) -> object:
    if match := re.search(r'What is (\w+) spelled backwards|reverse the string "(\w+)"', q):
        return "".join(reversed(match.group(1) or match.group(2)))
    if match := re.search(r'sorts? the letters of "(\w+)"', q):
        return "".join(sorted(match.group(1)))
    if match := re.search(r'[Rr]eplace (?:every|each) "(\w)" in "([^"]+)" (?:with|by) "(\w)"', q):
        old, text, new = match.groups()
        return re.sub(old, new, text)
    if match := re.search(r'Write "([^"]+)" in all capital|convert "([^"]+)" to uppercase', q):
        return (match.group(1) or match.group(2)).upper()
    if match := re.search(r'(\d+)(?:st|nd|rd|th) letter of "(\w+)"|position (\d+) of "(\w+)"', q):
        position, word = int(match.group(1) or match.group(3)), match.group(2) or match.group(4)
        return word[position - 1]
    word = found(r'"(\w+)" once you remove|vowels a, e, i, o and u from "(\w+)"', q)
    return re.sub("[aeiou]", "", word.group(1) or word.group(2))


DATE = r"\d{4}-\d\d-\d\d|\d{1,2} [A-Z][a-z]+ \d{4}|[A-Z][a-z]+ \d{1,2}, \d{4}"
HOLIDAYS = {
    "Christmas Day": (12, 25),
    "New Year's Day": (1, 1),
    "Halloween": (10, 31),
    "Valentine's Day": (2, 14),
}


def when(q: str) -> object:
    named = [dates.parse(text).date() for text in re.findall(DATE, q)]
    if match := re.search(r"([\d,]+) days after", q):
        return (named[0] + timedelta(days=integer(match.group(1)))).isoformat()
    if match := re.search(r"Friday the 13ths (?:are there )?(?:in (\d{4})|from (\d{4}) to (\d{4}))", q):
        first = int(match.group(1) or match.group(2))
        last = int(match.group(1) or match.group(3))
        return sum(
            calendar.weekday(year, month, 13) == calendar.FRIDAY
            for year in range(first, last + 1)
            for month in range(1, 13)
        )
    if match := re.search("(" + "|".join(HOLIDAYS) + r")(?: in)? (\d{4})", q):
        month, day = HOLIDAYS[match.group(1)]
        return calendar.day_name[calendar.weekday(int(match.group(2)), month, day)]
    if len(named) == 2:
        return (named[1] - named[0]).days
    (day,) = named
    return calendar.day_name[day.weekday()]


def numbers_listed(q: str) -> list[float]:
    listed = found(r"(?:\d+(?:\.\d+)?, )+\d+(?:\.\d+)?", q).group(0)
    return [float(value) for value in listed.split(", ")]


def stats(q: str) -> object:
    values = numbers_listed(q)
    if "average" in q or "mean" in q:
        return to_places(np.mean(values), places(q))
    if "median" in q:
        return to_places(np.median(values), 2)
    if match := re.search(r"(population|sample) standard deviation", q):
        return to_places(np.std(values, ddof=1 if match.group(1) == "sample" else 0), places(q))
    p = int(found(r"(\d+)th percentile", q).group(1))
    return to_places(np.percentile(values, p), places(q))


FACTORS = {
    ("miles", "kilometers"): constants.mile / constants.kilo,
    ("kilometers", "miles"): constants.kilo / constants.mile,
    ("pounds", "kilograms"): constants.pound,
    ("kilograms", "pounds"): 1 / constants.pound,
    ("inches", "centimeters"): constants.inch / constants.centi,
    ("centimeters", "inches"): constants.centi / constants.inch,
    ("mph", "km/h"): constants.mile / constants.kilo,
}


def units(q: str) -> object:
    count = places(q)
    if match := re.search(r"(\d+):(\d\d)", q):
        minutes = int(match.group(1)) + int(match.group(2)) / 60
        return to_places(minutes / (constants.mile / constants.kilo), count)
    if match := re.search(r"(-?[\d.]+)°([FC])", q):
        kelvin = constants.convert_temperature(float(match.group(1)), match.group(2), "K")
        return to_places(
            constants.convert_temperature(kelvin, "K", "C" if match.group(2) == "F" else "F"), count
        )
    if match := re.search(r"How many (\S+) is ([\d.]+) (\S+)\?", q):
        target, amount, source = match.groups()
    elif match := re.search(r"([\d.]+) (\S+) (?:in|to) (\S+?)[,. ]", q):
        amount, source, target = match.groups()
    else:
        amount, source, target = found(r"([\d.]+) mph", q).group(1), "mph", "km/h"
    return to_places(float(amount) * FACTORS[source, target], count)


X = sympy.Symbol("x")
TRANSFORMS = (*standard_transformations, implicit_multiplication_application, convert_xor)


def expression(text: str) -> sympy.Expr:
    return parse_expr(
        text,
        local_dict={"x": X, "y": sympy.Symbol("y"), "z": sympy.Symbol("z"), "e": sympy.E},
        transformations=TRANSFORMS,
    )


def algebra(q: str) -> object:
    if match := re.search(r"(?:root of|[Ss]olve|solution of) (.+?) = 0", q):
        polynomial, which = match.group(1), found(r"largest|smallest|larger", q).group(0)
        roots = sympy.Poly(expression(polynomial), X).real_roots()
        root = min(roots) if which == "smallest" else max(roots)
        return root if root.is_integer else to_places(root, places(q))
    if match := re.search(r"f\(x\) = (.+?) (?:at|and evaluate it at) x = (-?\d+)", q):
        slope = sympy.diff(expression(match.group(1)), X).subs(X, int(match.group(2)))
        return slope if slope.is_integer else to_places(slope, places(q))
    if match := re.search(r"integral of (.+?) (?:dx )?from (?:x = )?(-?\d+) to (?:x = )?(-?\d+)", q):
        value = sympy.integrate(expression(match.group(1)), (X, int(match.group(2)), int(match.group(3))))
        return to_places(value, places(q))
    equations = [line.split(" = ") for line in q.splitlines()[1:]]
    unknown = sympy.Symbol(found(r"(?:tell me|What is) ([xyz])", q).group(1))
    solution = sympy.solve([expression(left) - int(right) for left, right in equations])
    return solution[unknown]


def money(q: str) -> object:
    amounts = [float(a.replace(",", "")) for a in re.findall(r"\$([\d,]+(?:\.\d+)?)", q)]
    percents = [float(p) for p in re.findall(r"([\d.]+)%", q)]
    if "compounded" in q and "deposit" not in q and "save" not in q and "payment" not in q:
        per_year = {"annually": 1, "quarterly": 4, "monthly": 12, "daily": 365}[
            found(r"compounded (\w+)", q).group(1)
        ]
        years = int(found(r"(\d+) years", q).group(1))
        return to_places(amounts[0] * (1 + percents[0] / 100 / per_year) ** (per_year * years), 2)
    if "payment" in q:
        months = 12 * int(found(r"(\d+)[- ]years?", q).group(1))
        rate = percents[0] / 1200
        return to_places(amounts[0] * rate / (1 - (1 + rate) ** -months), 2)
    if "end of" in q:
        months = 12 * int(found(r"(\d+) years", q).group(1))
        rate = percents[0] / 1200
        return to_places(amounts[0] * ((1 + rate) ** months - 1) / rate, 2)
    if "sales tax" in q:
        return to_places(amounts[0] * (1 - percents[0] / 100) * (1 + percents[1] / 100), 2)
    before, after = amounts
    return to_places((after - before) / before * 100, places(q))


CHECKS: dict[str, Callable[[str], object]] = {
    "bignum": bignum,
    "primes": primes,
    "letters": letters,
    "strings": strings,
    "dates": when,
    "stats": stats,
    "units": units,
    "algebra": algebra,
    "money": money,
}


@pytest.mark.parametrize("family", sorted(CHECKS))
def test_every_answer_is_right(family: str) -> None:
    items = items_of(family)
    assert len(items) == 24
    for item in items:
        answer = CHECKS[family](item.question)
        if item.kind == "number":
            assert Decimal(str(answer)) == Decimal(item.expected), item.question
        else:
            assert str(answer) == item.expected, item.question
