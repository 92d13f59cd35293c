"""A suite: its items and how a trail on one of them is graded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from codeloop.eval.extract import (
    extract_date,
    extract_number,
    extract_quoted,
    extract_weekday,
    gives_text,
    numbers_equal,
)
from codeloop.eval.items import Graded, Item, Trail
from codeloop.sandbox.base import Sandbox

Grader = Callable[[Item, Trail, Sandbox], Awaitable[Graded]]

_EXTRACTORS = {"number": extract_number, "weekday": extract_weekday, "date": extract_date}


async def grade_text(item: Item, trail: Trail, sandbox: Sandbox) -> Graded:
    """Read the answer from the final text; when that holds none, from the last code output that does.

    The text is the model's answer and wins over its code's output, which only picks among the
    text's numbers (see extract_number) and stands in for a reply such as "The result is shown
    above.", or one cut short after its code ran."""
    if item.kind == "text":
        return grade_string(item, trail)
    extract = _EXTRACTORS[item.kind]
    outputs = (execution.output for execution in reversed(trail.executions) if execution.ok)
    printed = next((found for found in map(extract, outputs) if found is not None), None)
    if item.kind == "number":
        answer = extract_number(trail.text, printed) or printed
        return Graded(answer, numbers_equal(answer, item.expected))
    answer = extract(trail.text) or printed
    return Graded(answer, answer is not None and answer.lower() == item.expected.lower())


def grade_string(item: Item, trail: Trail) -> Graded:
    """Right when the final text gives the expected string (see gives_text), or else the last code
    output that ran does; the answer recorded when wrong is the text's last quoted span.

    A string cannot be read out of prose the way a number can, so it is looked for; a reply that
    gives it and then something else is counted right, a rare case that a reader would argue over."""
    outputs = [execution.output for execution in trail.executions if execution.ok]
    if gives_text(trail.text, item.expected) or (
        outputs and gives_text(outputs[-1], item.expected, bare_letter=True)
    ):
        return Graded(item.expected, True)
    printed = outputs[-1].strip()[-200:] if outputs else ""
    return Graded(extract_quoted(trail.text) or printed or None, False)


@dataclass(frozen=True)
class Suite:
    name: str
    items: tuple[Item, ...]
    grade: Grader = grade_text
