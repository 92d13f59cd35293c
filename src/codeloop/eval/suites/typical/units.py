"""Unit conversions with the rounding asked for: miles and km, °F and °C, pounds and kg, inches and cm.

The factors are the exact definitions (a mile is 1.609344 km, a pound 0.45359237 kg, an inch 2.54 cm).
A draw is kept only when a factor good to six significant figures (1.60934, 0.621371, 2.20462, ...)
rounds to the same answer, so an answer is never lost to the constant a model remembers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from codeloop.eval.suites.typical.family import Draft, Family, ask, places_word, rounded

MILE_KM = Fraction("1.609344")
POUND_KG = Fraction("0.45359237")
INCH_CM = Fraction("2.54")


@dataclass(frozen=True)
class Conversion:
    source: str  # plural unit names, as asked
    target: str
    exact: Callable[[Fraction], Fraction]
    close: Callable[[Fraction], Fraction]  # with the factor to six significant figures
    low: int  # the range of values asked about
    high: int


def _factor(
    exact: Fraction, close: str
) -> tuple[Callable[[Fraction], Fraction], Callable[[Fraction], Fraction]]:
    return (lambda value: value * exact), (lambda value: value * Fraction(close))


CONVERSIONS = (
    Conversion("miles", "kilometers", *_factor(MILE_KM, "1.60934"), 1, 500),
    Conversion("kilometers", "miles", *_factor(1 / MILE_KM, "0.621371"), 1, 800),
    Conversion("pounds", "kilograms", *_factor(POUND_KG, "0.453592"), 1, 400),
    Conversion("kilograms", "pounds", *_factor(1 / POUND_KG, "2.20462"), 1, 200),
    Conversion("inches", "centimeters", *_factor(INCH_CM, "2.54"), 1, 120),
    Conversion("centimeters", "inches", *_factor(1 / INCH_CM, "0.393701"), 1, 300),
)
_FAHRENHEIT = Conversion(
    "°F", "°C", lambda f: (f - 32) * Fraction(5, 9), lambda f: (f - 32) * Fraction(5, 9), -40, 120
)
_CELSIUS = Conversion(
    "°C", "°F", lambda c: c * Fraction(9, 5) + 32, lambda c: c * Fraction(9, 5) + 32, -40, 50
)


def _convert(rng: random.Random, conversion: Conversion) -> tuple[str, str, int]:
    """A value to convert (as written), the answer, and the decimal places asked for."""
    while True:
        decimals = rng.choice((0, 0, 1))
        value = Fraction(
            rng.randint(conversion.low * 10**decimals, conversion.high * 10**decimals), 10**decimals
        )
        places = rng.choice((1, 2))
        answer = rounded(conversion.exact(value), places)
        if answer is not None and answer == rounded(conversion.close(value), places):
            return f"{float(value):.{decimals}f}", answer, places


def _distance_or_weight(rng: random.Random, coded: bool) -> Draft:
    conversion = rng.choice(CONVERSIONS)
    value, answer, places = _convert(rng, conversion)
    question = ask(
        coded,
        f"How many {conversion.target} is {value} {conversion.source}? Round to {places_word(places)}.",
        f"Calculate {value} {conversion.source} in {conversion.target}, rounded to {places_word(places)}.",
    )
    return Draft(question, answer)


def _temperature(rng: random.Random, coded: bool) -> Draft:
    conversion = rng.choice((_FAHRENHEIT, _CELSIUS))
    value, answer, places = _convert(rng, conversion)
    question = ask(
        coded,
        f"What is {value}{conversion.source} in {conversion.target}? Round to {places_word(places)}.",
        f"Use code to convert {value}{conversion.source} to {conversion.target}, to {places_word(places)}.",
    )
    return Draft(question, answer)


def _pace(rng: random.Random, coded: bool) -> Draft:
    """A running pace in minutes per mile as minutes per kilometer, in decimal minutes."""
    while True:
        seconds = rng.randint(6 * 60, 13 * 60)
        places = rng.choice((1, 2))
        answer = rounded(Fraction(seconds, 60) / MILE_KM, places)
        if answer is not None and answer == rounded(Fraction(seconds, 60) / Fraction("1.60934"), places):
            break
    pace = f"{seconds // 60}:{seconds % 60:02d}"
    question = ask(
        coded,
        f"I run a {pace} mile. What's that in minutes per kilometer, as a decimal number of minutes "
        f"rounded to {places_word(places)}?",
        f"Compute my pace in minutes per km if I run a mile in {pace} (minutes:seconds). Give decimal "
        f"minutes, rounded to {places_word(places)}.",
    )
    return Draft(question, answer)


def _speed(rng: random.Random, coded: bool) -> Draft:
    conversion = Conversion("mph", "km/h", *_factor(MILE_KM, "1.60934"), 5, 90)
    value, answer, places = _convert(rng, conversion)
    question = ask(
        coded,
        f"A speed limit of {value} mph is how many km/h? Round to {places_word(places)}.",
        f"Convert {value} mph to km/h with code and round to {places_word(places)}.",
    )
    return Draft(question, answer)


UNITS = Family("units", (_distance_or_weight, _temperature, _pace, _speed))
