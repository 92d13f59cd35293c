"""Text answers: the final text wins; the last code output that holds an answer stands in for none."""

from __future__ import annotations

import asyncio

from codeloop.eval.items import Item, Trail
from codeloop.eval.suites.base import grade_text
from codeloop.execution import Execution, Outcome
from codeloop.loop.events import Usage

NUMBER = Item("n", "How many?", "18")


def ok(output: str) -> Execution:
    return Execution(Outcome.OUTCOME_OK, output)


def grade(item: Item, text: str, *executions: Execution) -> tuple[str | None, bool]:
    trail = Trail(text, text, (), executions, "STOP", Usage(), 0.0)
    graded = asyncio.run(grade_text(item, trail, sandbox=None))
    return graded.answer, graded.correct


def test_the_text_wins_over_the_code_output() -> None:
    assert grade(NUMBER, "So the answer is 17.", ok("18\n")) == ("17", False)


def test_the_last_output_with_an_answer_stands_in_for_a_text_without_one() -> None:
    failed = Execution(Outcome.OUTCOME_FAILED, "line 3\nNameError: 99")
    assert grade(NUMBER, "The result is shown above.", ok("18\n"), ok("done\n"), failed) == ("18", True)
    assert grade(NUMBER, "") == (None, False)


def test_weekdays_and_dates_compare_as_text() -> None:
    assert grade(Item("w", "Which day?", "Friday", "weekday"), "It was a friday.") == ("Friday", True)
    assert grade(Item("d", "Which date?", "2024-03-05", "date"), "March 5, 2024.") == ("2024-03-05", True)
    assert grade(Item("d", "Which date?", "2024-03-05", "date"), "2024-03-06") == ("2024-03-06", False)
