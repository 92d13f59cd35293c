"""Algebra and calculus, as people ask sympy: roots, a derivative's value, a definite integral, a linear
system. Each answer is a number (rounded as asked), worked out here exactly or in closed form."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from decimal import Decimal, localcontext
from fractions import Fraction

from codeloop.eval.suites.typical.family import Draft, Family, ask, rounded


def polynomial(coefficients: list[int]) -> str:
    """`[1, -2, 0, 5]` -> `x^3 - 2x^2 + 5`, highest power first."""
    terms: list[str] = []
    degree = len(coefficients) - 1
    for power, c in zip(range(degree, -1, -1), coefficients, strict=True):
        if c == 0:
            continue
        size = "" if abs(c) == 1 and power else str(abs(c))
        variable = "" if power == 0 else "x" if power == 1 else f"x^{power}"
        sign = ("-" if c < 0 else "") if not terms else (" - " if c < 0 else " + ")
        terms.append(f"{sign}{size}{variable}")
    return "".join(terms) or "0"


def expand(roots: list[int]) -> list[int]:
    """The coefficients of (x - r1)(x - r2)..., highest power first."""
    coefficients = [1]
    for root in roots:
        coefficients = [a - root * b for a, b in zip([*coefficients, 0], [0, *coefficients], strict=True)]
    return coefficients


def evaluate(coefficients: Sequence[Fraction | int], x: Fraction | int) -> Fraction:
    """The polynomial at x, by Horner's rule."""
    value = Fraction(0)
    for c in coefficients:
        value = value * x + c
    return value


def exponential(k: Fraction) -> str:
    """e^(kx) as people write it: e^(2x), e^(-x), e^(x/2), e^(-3x/2)."""
    sign = "-" if k < 0 else ""
    size = "" if abs(k.numerator) == 1 else str(abs(k.numerator))
    over = "" if k.denominator == 1 else f"/{k.denominator}"
    return f"e^({sign}{size}x{over})"


def _cubic_root(rng: random.Random, coded: bool) -> Draft:
    roots = rng.sample(range(-9, 10), 3)
    which, root = rng.choice((("largest", max(roots)), ("smallest", min(roots))))
    equation = f"{polynomial(expand(roots))} = 0"
    question = ask(
        coded,
        f"What is the {which} root of {equation}?",
        f"Use sympy to solve {equation}. What is the {which} root?",
    )
    return Draft(question, str(root))


def _quadratic_root(rng: random.Random, coded: bool) -> Draft:
    while True:
        a, b, c = rng.randint(1, 6), rng.randint(-20, 20), rng.randint(-30, 30)
        discriminant = b * b - 4 * a * c
        if discriminant > 0 and math.isqrt(discriminant) ** 2 != discriminant:
            with localcontext() as context:
                context.prec = 60
                larger = (Decimal(-b) + Decimal(discriminant).sqrt()) / (2 * a)
            if (answer := rounded(larger, 3)) is not None:
                break
    equation = f"{polynomial([a, b, c])} = 0"
    question = ask(
        coded,
        f"Solve {equation}. Give the larger root to three decimal places.",
        f"Write a program to find the larger solution of {equation}, to three decimal places.",
    )
    return Draft(question, answer)


def _derivative(rng: random.Random, coded: bool) -> Draft:
    """f'(x0) for a polynomial (exact), x^n sin(x) or ln(x^2 + c), the latter two to 3 decimal places."""
    form = rng.randrange(3)
    while True:
        x0 = rng.randint(-3, 4)
        if form == 0:
            coefficients = [rng.randint(-9, 9) or 1 for _ in range(rng.randint(3, 5))]
            function = polynomial(coefficients)
            degree = len(coefficients) - 1
            slope = [c * (degree - i) for i, c in enumerate(coefficients[:-1])]
            answer: str | None = str(evaluate(slope, x0))
            places = ""
        elif form == 1:
            n = rng.randint(2, 4)
            function = f"x^{n} * sin(x)"
            answer = rounded(n * x0 ** (n - 1) * math.sin(x0) + x0**n * math.cos(x0), 3)
            places = " Give it to three decimal places (x in radians)."
        else:
            c = rng.randint(1, 9)
            function = f"ln(x^2 + {c})"
            answer = rounded(Fraction(2 * x0, x0 * x0 + c), 3)
            places = " Give it to three decimal places."
        if answer is not None:
            break
    question = ask(
        coded,
        f"What is the derivative of f(x) = {function} at x = {x0}?{places}",
        f"Use sympy to differentiate f(x) = {function} and evaluate it at x = {x0}.{places}",
    )
    return Draft(question, answer)


def _integral(rng: random.Random, coded: bool) -> Draft:
    """The integral of a polynomial, or of e^(kx), from a to b, to three decimal places."""
    while True:
        a = rng.randint(-3, 2)
        b = a + rng.randint(1, 4)
        if rng.random() < 0.5:
            coefficients = [rng.randint(-6, 6) or 2 for _ in range(rng.randint(2, 4))]
            function = polynomial(coefficients)
            degree = len(coefficients) - 1
            antiderivative = [Fraction(c, degree - i + 1) for i, c in enumerate(coefficients)] + [Fraction(0)]
            value: Fraction | float = evaluate(antiderivative, b) - evaluate(antiderivative, a)
        else:
            k = rng.choice((-2, -1, 2, 3)) * Fraction(1, rng.choice((1, 2)))
            function = exponential(k)
            value = (math.exp(k * b) - math.exp(k * a)) / k
        if (answer := rounded(value, 3)) is not None:
            break
    question = ask(
        coded,
        f"What is the definite integral of {function} from x = {a} to x = {b}? Round to three "
        "decimal places.",
        f"Compute the integral of {function} dx from {a} to {b} with sympy, to three decimal places.",
    )
    return Draft(question, answer)


def _linear_system(rng: random.Random, coded: bool) -> Draft:
    """Two or three equations with a whole-number solution, built from it; one unknown is asked for."""
    names = ("x", "y", "z")[: rng.choice((2, 3))]
    solution = [rng.randint(-9, 9) for _ in names]
    while True:
        rows = [[rng.choice((-1, 1)) * rng.randint(1, 7) for _ in names] for _ in names]
        if _determinant(rows) != 0:
            break
    equations = []
    for row in rows:
        left = polynomial_terms(row, names)
        equations.append(f"{left} = {sum(c * v for c, v in zip(row, solution, strict=True))}")
    which = rng.randrange(len(names))
    system = "\n".join(equations)
    question = ask(
        coded,
        f"Solve this system of equations and tell me {names[which]}:\n{system}",
        f"Use code to solve the linear system below. What is {names[which]}?\n{system}",
    )
    return Draft(question, str(solution[which]))


def polynomial_terms(coefficients: list[int], names: tuple[str, ...]) -> str:
    """`[2, -1, 0], ("x", "y", "z")` -> `2x - y`."""
    terms: list[str] = []
    for c, name in zip(coefficients, names, strict=True):
        if c == 0:
            continue
        size = "" if abs(c) == 1 else str(abs(c))
        sign = ("-" if c < 0 else "") if not terms else (" - " if c < 0 else " + ")
        terms.append(f"{sign}{size}{name}")
    return "".join(terms) or "0"


def _determinant(rows: list[list[int]]) -> int:
    if len(rows) == 2:
        return rows[0][0] * rows[1][1] - rows[0][1] * rows[1][0]
    return sum(
        (-1) ** column
        * rows[0][column]
        * _determinant([row[:column] + row[column + 1 :] for row in rows[1:]])
        for column in range(3)
    )


ALGEBRA = Family("algebra", (_cubic_root, _quadratic_root, _derivative, _integral, _linear_system))
