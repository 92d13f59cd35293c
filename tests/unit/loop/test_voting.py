from __future__ import annotations

from codeloop.execution import Execution, Outcome
from codeloop.loop.voting import answer_of, winner


def ok(output: str) -> Execution:
    return Execution(Outcome.OUTCOME_OK, output)


def test_the_last_printed_line_is_the_answer_numbers_compared_as_numbers() -> None:
    assert answer_of(ok("primes: [2, 3]\n5117\n\n")) == "5117"
    assert answer_of(ok("5117.0\n")) == answer_of(ok("5,117\n")) == "5117"
    assert answer_of(ok("0.30000000000000004\n")) == answer_of(ok("0.3\n"))
    assert answer_of(ok("The answer is  Tuesday\n")) == "The answer is Tuesday"
    assert answer_of(ok("\n")) is None
    assert answer_of(Execution(Outcome.OUTCOME_FAILED, "5117\n")) is None


def test_the_majority_wins_and_ties_go_to_the_first() -> None:
    assert winner([ok("328\n"), ok("5117\n"), ok("5117.0\n")]) == 1
    assert winner([ok("1\n"), ok("2\n")]) == 0
    assert winner([Execution(Outcome.OUTCOME_FAILED, ""), ok("2\n")]) == 1
    assert winner([]) == 0
