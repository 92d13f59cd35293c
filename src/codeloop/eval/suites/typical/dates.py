"""Dates and weekdays: the weekday of a date, days between two dates, the date some days on.

Dates run from 1753, the first full year of the Gregorian calendar in Britain and its colonies, so
Python's proleptic calendar and the one people used agree (the fixed 14 July 1789 was in France,
Gregorian since 1582).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from codeloop.eval.extract import MONTHS, WEEKDAYS
from codeloop.eval.suites.typical.family import Draft, Family, ask

FIRST = date(1753, 1, 1)
LAST = date(2099, 12, 31)


def spoken(day: date, style: int) -> str:
    """The date as people write it: 14 July 1789, July 14, 1789 or 1789-07-14."""
    month = MONTHS[day.month - 1]
    return (f"{day.day} {month} {day.year}", f"{month} {day.day}, {day.year}", day.isoformat())[style % 3]


def _day(rng: random.Random, first: date = FIRST, last: date = LAST) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _weekday(rng: random.Random, coded: bool) -> Draft:
    day = _day(rng)
    written = spoken(day, rng.randrange(3))
    question = ask(
        coded,
        f"What day of the week was {written}?" if day < date(2025, 1, 1) else f"What weekday is {written}?",
        f"Use code to find the day of the week of {written}.",
    )
    return Draft(question, WEEKDAYS[day.weekday()], "weekday")


def _days_between(rng: random.Random, coded: bool) -> Draft:
    start = _day(rng, date(1900, 1, 1), date(2030, 12, 31))
    end = start + timedelta(days=rng.randint(30, 30_000))
    style = rng.randrange(3)
    days = str((end - start).days)
    if rng.random() < 0.5:
        question = ask(
            coded,
            f"Someone born on {spoken(start, style)}: how many days old are they on {spoken(end, style)}?",
            f"Write a program to work out how many days old a person born on {spoken(start, style)} is on "
            f"{spoken(end, style)}.",
        )
        return Draft(question, days)
    question = ask(
        coded,
        f"How many days are there from {spoken(start, style)} to {spoken(end, style)}? Count the days "
        "after the first date up to and including the second.",
        f"Calculate the number of days between {spoken(start, style)} and {spoken(end, style)}, the "
        "second date minus the first.",
    )
    return Draft(question, days)


def _days_after(rng: random.Random, coded: bool) -> Draft:
    start = _day(rng, date(1950, 1, 1), date(2040, 12, 31))
    days = rng.choice((rng.randint(40, 999), rng.randint(1000, 20_000)))
    written = spoken(start, rng.randrange(3))
    question = ask(
        coded,
        f"What date is {days:,} days after {written}? Answer as YYYY-MM-DD.",
        f"Compute the date {days} days after {written} and give it as YYYY-MM-DD.",
    )
    return Draft(question, (start + timedelta(days=days)).isoformat(), "date")


def _christmas(rng: random.Random, coded: bool) -> Draft:
    year = rng.randint(1800, 2099)
    holiday, month, day = rng.choice(
        (
            ("Christmas Day", 12, 25),
            ("New Year's Day", 1, 1),
            ("Halloween", 10, 31),
            ("Valentine's Day", 2, 14),
        )
    )
    question = ask(
        coded,
        f"What day of the week is {holiday} in {year}?",
        f"Use Python to find the weekday of {holiday} {year}.",
    )
    return Draft(question, WEEKDAYS[date(year, month, day).weekday()], "weekday")


def _fridays_13th(rng: random.Random, coded: bool) -> Draft:
    first = rng.randint(1900, 2090)
    last = first + rng.randint(0, 9)
    span = f"in {first}" if first == last else f"from {first} to {last}, both years included"
    count = sum(
        date(year, month, 13).weekday() == 4 for year in range(first, last + 1) for month in range(1, 13)
    )
    question = ask(
        coded,
        f"How many Friday the 13ths are there {span}?",
        f"Write code to count the Friday the 13ths {span}.",
    )
    return Draft(question, str(count))


DATES = Family(
    "dates",
    (_weekday, _days_between, _days_after, _christmas, _fridays_13th),
    fixed=(
        Draft(
            "On which day of the week was 14 July 1789?",
            WEEKDAYS[date(1789, 7, 14).weekday()],
            "weekday",
        ),
    ),
)
