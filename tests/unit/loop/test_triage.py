from __future__ import annotations

import pytest

from codeloop.loop.triage import needs_code


@pytest.mark.parametrize(
    "question",
    [
        "What is the sum of the first 50 prime numbers?",
        "How many r's are in strawberry?",
        "On which day of the week was 14 July 1789?",
        "What is 17 factorial?",
        "What is 2^100?",
        "Convert 98.6 degrees Fahrenheit to Celsius.",
        "What's the median of 3, 9, 1 and 14?",
        "Reverse the word codeloop.",
        "What is canyon spelled backwards?",
        'Replace every "e" in "needle" with "x". What do you get?',
        "Write mississippi in upper case.",
        "Is racecar a palindrome?",
    ],
)
def test_questions_that_need_computing(question: str) -> None:
    assert needs_code(question)


@pytest.mark.parametrize(
    "question",
    [
        "Hello!",
        "hi there",
        "What is the capital of France?",
        "Tell me a joke about cats.",
        "What can replace butter in a cake?",
    ],
)
def test_questions_that_do_not(question: str) -> None:
    assert not needs_code(question)


def test_an_attached_file_is_for_the_code() -> None:
    assert needs_code("Summarize this.", has_files=True)
