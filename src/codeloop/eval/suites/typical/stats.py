"""Statistics of a listed set: mean, median, standard deviation (population or sample, as asked) and
percentiles (linear interpolation, numpy's default), computed exactly and rounded as asked."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from decimal import Decimal, localcontext
from fractions import Fraction

from codeloop.eval.suites.typical.family import Draft, Family, ask, ordinal, places_word, rounded

# What the numbers are: a phrase, their range, and how many decimals they are written with.
_THEMES = (
    ("my exam scores this term", 40, 100, 0),
    ("the daily high temperatures last month, in °C", 5, 35, 1),
    ("our team's weekly sales, in units", 80, 400, 0),
    ("reaction times from my experiment, in milliseconds", 180, 450, 0),
    ("the heights of the kids in my class, in cm", 120, 160, 1),
    ("monthly rainfall in mm", 10, 140, 1),
    ("the daily visitor counts for my site", 150, 2000, 0),
    ("the weights of the parcels we shipped today, in kg", 1, 30, 2),
)


def _values(rng: random.Random) -> tuple[str, list[Fraction], str]:
    """A theme, its numbers exactly, and the numbers as listed."""
    theme, low, high, decimals = rng.choice(_THEMES)
    scale = 10**decimals
    values = [Fraction(rng.randint(low * scale, high * scale), scale) for _ in range(rng.randint(7, 16))]
    listed = ", ".join(f"{float(value):.{decimals}f}" for value in values)
    return theme, values, listed


def median(values: list[Fraction]) -> Fraction:
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(values) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: list[Fraction], p: int) -> Fraction:
    """The p-th percentile, interpolated linearly between ranks (numpy.percentile's default)."""
    ordered = sorted(values)
    rank = Fraction((len(ordered) - 1) * p, 100)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def deviation(values: list[Fraction], sample: bool) -> Decimal:
    mean = sum(values, Fraction(0)) / len(values)
    squares = sum(((value - mean) ** 2 for value in values), Fraction(0))
    variance = squares / (len(values) - 1 if sample else len(values))
    with localcontext() as context:
        context.prec = 60
        return (Decimal(variance.numerator) / Decimal(variance.denominator)).sqrt()


def _drawn(
    rng: random.Random, compute: Callable[[list[Fraction]], Fraction | Decimal], places: int
) -> tuple[str, str, str]:
    """Numbers whose statistic rounds cleanly: the theme, the list, the answer."""
    while True:
        theme, values, listed = _values(rng)
        if (answer := rounded(compute(values), places)) is not None:
            return theme, listed, answer


def _mean(rng: random.Random, coded: bool) -> Draft:
    theme, listed, answer = _drawn(rng, lambda values: sum(values, Fraction(0)) / len(values), 2)
    question = ask(
        coded,
        f"These are {theme}: {listed}. What's the average? Round to two decimal places.",
        f"Calculate the mean of {theme}: {listed}. Round it to two decimal places.",
    )
    return Draft(question, answer)


def _median(rng: random.Random, coded: bool) -> Draft:
    theme, listed, answer = _drawn(rng, median, 2)
    question = ask(
        coded,
        f"What is the median of {theme}? {listed}",
        f"Use code to find the median of {theme}: {listed}",
    )
    return Draft(question, answer)


def _deviation(rng: random.Random, coded: bool) -> Draft:
    sample = rng.random() < 0.5
    places = rng.choice((2, 3))
    kind = "sample" if sample else "population"
    theme, listed, answer = _drawn(rng, lambda values: deviation(values, sample), places)
    question = ask(
        coded,
        f"What's the {kind} standard deviation of {theme}? {listed}. Round to {places_word(places)}.",
        f"Compute the {kind} standard deviation of {theme}: {listed}. Give it to {places_word(places)}.",
    )
    return Draft(question, answer)


def _percentile(rng: random.Random, coded: bool) -> Draft:
    p = rng.choice((10, 25, 75, 90))
    theme, listed, answer = _drawn(rng, lambda values: percentile(values, p), 2)
    question = ask(
        coded,
        f"What is the {ordinal(p)} percentile of {theme}: {listed}? Use linear interpolation between "
        "values (numpy's default) and round to two decimal places.",
        f"Use numpy to compute the {ordinal(p)} percentile of {theme}: {listed} (default linear "
        "interpolation), rounded to two decimal places.",
    )
    return Draft(question, answer)


STATS = Family("stats", (_mean, _median, _deviation, _percentile))
