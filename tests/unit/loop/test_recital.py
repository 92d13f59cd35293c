from __future__ import annotations

import pytest

from codeloop.loop.recital import computes_nothing


@pytest.mark.parametrize(
    "code",
    [
        'print("lamam")',
        "print(1)",
        "print(\"'m'\")",
        "answer = 5040\nprint(answer)",
        "import math\n\nprint(-3)",
        'print("The answer is", 42, sep=": ")',
        'x = "m"\nprint(f"{x}")',
        "print([2, 3, 5])",
    ],
)
def test_programs_that_print_what_was_written_into_them(code: str) -> None:
    assert computes_nothing(code)


@pytest.mark.parametrize(
    "code",
    [
        'print("mammal"[::-1])',
        "print(2**100)",
        "import math\nprint(math.factorial(17))",
        'print(len("abc"))',
        "for n in [1, 2]:\n    print(n)",
        "x = 1 / 3\nprint(f'{x:.2f}')",
        'print(f"{1:.2f}")',
        "def f():\n    pass",  # prints nothing
        "",
        "print(",  # does not parse: it runs and fails
    ],
)
def test_programs_that_compute_or_are_not_judged(code: str) -> None:
    assert not computes_nothing(code)
