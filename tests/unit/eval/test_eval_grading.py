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


REVERSED = Item("s", 'Use code to reverse the string "strawberry".', "yrrebwarts", "text")
LETTER = Item("c", 'What is the 6th letter of "balloon"? Put the letter in quotes.', "o", "text")


def test_a_string_is_found_quoted_or_whole_in_the_text() -> None:
    assert grade(REVERSED, "The reversed string is 'yrrebwarts'.") == ("yrrebwarts", True)
    assert grade(REVERSED, "Strawberry backwards is yrrebwarts.") == ("yrrebwarts", True)
    assert grade(LETTER, 'The 6th letter of "balloon" is "o".') == ("o", True)


def test_a_wrong_string_records_the_last_quoted_span() -> None:
    assert grade(REVERSED, "Reversed, 'strawberry' is 'yrrebwarst'.") == ("yrrebwarst", False)
    assert grade(LETTER, "The 6th letter of balloon is n.", ok("n\n")) == ("n", False)


def test_a_text_that_misses_the_string_is_forgiven_by_output_that_gives_it() -> None:
    # Unlike a number, a string is looked for, not read: the text cannot outvote the output.
    assert grade(LETTER, 'The 6th letter of "balloon" is "n".', ok("o\n")) == ("o", True)


def test_the_last_output_stands_in_when_the_text_does_not_give_it() -> None:
    assert grade(REVERSED, "Done, see above.", ok("yrrebwarts\n")) == ("yrrebwarts", True)
    assert grade(LETTER, "The 6th letter of balloon is o.", ok("o\n")) == ("o", True)
    # Only the last output that ran counts: an earlier right one was superseded.
    assert grade(REVERSED, "Done.", ok("yrrebwarts\n"), ok("yrrebwarst\n")) == ("yrrebwarst", False)
    failed = Execution(Outcome.OUTCOME_FAILED, "yrrebwarts")
    assert grade(REVERSED, "It failed.", failed) == (None, False)
    assert grade(REVERSED, "") == (None, False)


def test_a_case_changed_string_is_wrong() -> None:
    upper = Item("u", 'Write "good morning" in all capital letters.', "GOOD MORNING", "text")
    assert grade(upper, 'In capitals, "good morning" is "GOOD MORNING".') == ("GOOD MORNING", True)
    assert grade(upper, 'That is "Good Morning".') == ("Good Morning", False)
