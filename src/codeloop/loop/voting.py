"""Execution-based self-consistency: several programs for one question, run, and voted on by what
they print.

A small model's single program often computes something other than what was asked (the first 50
primes summed as `range(2, 51)`); programs sampled beside it that agree on one printed answer are
better evidence than any one of them. Each program's vote is its answer: the last line it printed,
numbers compared as numbers. Programs that failed or printed nothing do not vote. The most common
answer wins; a tie goes to the earliest program, and the first is the greedy one, so with no
agreement the loop does what it would have done without voting.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from codeloop.execution import Execution

_SPACES = re.compile(r"\s+")


def answer_of(execution: Execution) -> str | None:
    """What a program's run says the answer is, normalised for comparison; None if it has no say."""
    if not execution.ok:
        return None
    lines = [line.strip() for line in execution.output.splitlines() if line.strip()]
    if not lines:
        return None
    last = _SPACES.sub(" ", lines[-1])
    try:
        number = Decimal(last.replace(",", ""))
    except InvalidOperation:
        return last
    if not number.is_finite():
        return last
    # 5117 and 5117.0 agree; so do floats that differ past the 9th significant digit.
    return format(number.normalize(), "f") if number == number.to_integral_value() else f"{float(number):.9g}"


def winner(executions: Sequence[Execution]) -> int:
    """The index of the program whose answer most programs share; 0 when none has a say."""
    answers = [answer_of(execution) for execution in executions]
    counts = Counter(answer for answer in answers if answer is not None)
    if not counts:
        return 0
    best = max(counts.values())
    return next(i for i, answer in enumerate(answers) if answer is not None and counts[answer] == best)
