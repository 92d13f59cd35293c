"""Generated tasks where running code should help most: arithmetic, letter counting, calendar questions.

Each item comes from its own seeded generator (`random.Random("<suite>-<index>")`), so a suite is the
same everywhere and item n never depends on how many items are asked for.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from codeloop.eval.extract import MONTHS, WEEKDAYS
from codeloop.eval.items import AnswerKind, Item
from codeloop.eval.suites.base import Suite

SIZE = 100  # items per generated suite

# Plain words to count letters in, chosen for repeated letters (strawberry has three r's).
_WORDS = """\
strawberry banana committee bookkeeper mississippi address balloon coffee letter apple success
parallel necessary accommodation assessment possession embarrass occurrence tomorrow millennium
programming butterfly raspberry cinnamon pepper puzzle giraffe hippopotamus referee tattoo vacuum
bubble cellar dessert marshmallow pineapple volleyball grasshopper sheep queue engineer kangaroo
mammal pizzazz woodpecker lemonade umbrella satellite chocolate broccoli spaghetti zucchini avocado
tomato potato carrot cabbage lettuce river mountain forest desert ocean island valley canyon meadow
glacier window kitchen bottle pillow blanket mirror ladder hammer scissors needle
"""
WORDS = tuple(_WORDS.split())


def arithmetic() -> Suite:
    return Suite("arithmetic", tuple(_arithmetic(index) for index in range(SIZE)))


def letters() -> Suite:
    return Suite("letters", tuple(_letters(index) for index in range(SIZE)))


def calendar() -> Suite:
    return Suite("calendar", tuple(_calendar(index) for index in range(SIZE)))


def _item(suite: str, index: int, question: str, expected: object, kind: AnswerKind) -> Item:
    return Item(f"{suite}-{index:04d}", question, str(expected), kind)


def _arithmetic(index: int) -> Item:
    """A sum of 3 to 5 terms, each a number or a product of two, with 2- to 4-digit numbers."""
    rng = random.Random(f"arithmetic-{index}")
    text, value = "", 0
    for position in range(rng.randint(3, 5)):
        factors = [rng.randint(12, 9999) for _ in range(rng.choice((1, 1, 2)))]
        term = factors[0] if len(factors) == 1 else factors[0] * factors[1]
        sign = 1 if position == 0 or rng.random() < 0.6 else -1
        written = " * ".join(str(factor) for factor in factors)
        text += written if position == 0 else f" {'+' if sign > 0 else '-'} {written}"
        value += sign * term
    return _item("arithmetic", index, f"What is {text}?", value, "number")


def _letters(index: int) -> Item:
    rng = random.Random(f"letters-{index}")
    words = rng.sample(WORDS, rng.randint(4, 10))
    letter = rng.choice(sorted(set("".join(words))))
    count = sum(word.count(letter) for word in words)
    question = f'How many times does the letter "{letter}" appear in the text: "{" ".join(words)}"?'
    return _item("letters", index, question, count, "number")


def _calendar(index: int) -> Item:
    """A weekday, a count of days between two dates, or the date some days after another, in turn."""
    rng = random.Random(f"calendar-{index}")
    start = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 100))
    days = rng.randint(20, 2000)
    if index % 3 == 0:
        question = f"What day of the week was {_spoken(start)}?"
        return _item("calendar", index, question, WEEKDAYS[start.weekday()], "weekday")
    if index % 3 == 1:
        end = start + timedelta(days=days)
        question = f"How many days after {_spoken(start)} is {_spoken(end)}?"
        return _item("calendar", index, question, days, "number")
    question = f"What date is {days} days after {_spoken(start)}? Give it as YYYY-MM-DD."
    return _item("calendar", index, question, (start + timedelta(days=days)).isoformat(), "date")


def _spoken(day: date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"
