"""Reading answers out of replies: numbers, weekdays, dates, strings, and the code offered for a function."""

from __future__ import annotations

import pytest

from codeloop.eval.extract import (
    extract_date,
    extract_number,
    extract_program,
    extract_quoted,
    extract_weekday,
    gives_text,
    numbers_equal,
)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("The answer is 18.", "18"),
        ("#### 18", "18"),
        ("She pays $1,234.50 in total.", "1234.5"),
        ("So she started with **18** vacuum cleaners.", "18"),
        ("Total: **$18.00**", "18"),
        ("It costs 18.0 dollars.", "18"),
        ("The temperature fell to -5 degrees.", "-5"),
        ("The balance is −12.", "-12"),
        ("10-5 = 5", "5"),
        ("He drives 60 km/h for 3 hours, 180 km.", "180"),
        ("The answer is 40%.", "40"),
        ("The final answer is $\\boxed{42}$, from 6 * 7.", "42"),
        ("The answer is: **$18**. Check: 18 * 2 = 36.", "18"),
        ("**Answer:** 7 apples, since 3 + 4 = 7.", "7"),
        ("First, 2 * 3 = 6.\n\nThen 6 + 4 = 10, so she has 10 left.", "10"),
        ("There are 992 days from March 4, 2021 to November 21, 2023.", "992"),
        ("It is 852 days after 1975-10-02.", "852"),
        ("1,000,000 people", "1000000"),
        ("Numbers: 1,2,3", "3"),
        ("The result is 3.75.", "3.75"),
        ("I don't know.", None),
        ("", None),
    ],
)
def test_extract_number(text: str, number: str | None) -> None:
    assert extract_number(text) == number


def test_the_gsm8k_marker_wins_over_later_numbers() -> None:
    assert extract_number("#### 18\nThat took 3 steps.") == "18"


def test_an_answer_phrase_wins_over_later_numbers() -> None:
    assert extract_number("The answer is 18. It took 2 steps to get there.") == "18"


def test_the_number_the_code_printed_wins_over_later_numbers() -> None:
    reply = "The program prints 360 hours spent on TV and reading in 4 weeks."
    assert extract_number(reply) == "4"
    assert extract_number(reply, printed="360") == "360"
    assert extract_number(reply, printed="7") == "4"  # not in the text: the usual rules
    assert extract_number("The answer is 5, the program printed 360.", printed="360") == "5"


def test_bold_numbers_count_only_in_the_last_paragraph() -> None:
    text = "**1.** Add the apples: 3 + 4 = 7.\n\nShe has 7 apples, 2 of them red."
    assert extract_number(text) == "2"
    assert extract_number("She has **7** apples, 2 of them red.") == "7"


@pytest.mark.parametrize(
    ("answer", "expected", "equal"),
    [
        ("18", "18", True),
        ("18.0", "18", True),
        ("1,000", "1000", True),
        ("-3", "-3", True),
        ("17.99", "18", False),
        (None, "18", False),
        ("eighteen", "18", False),
    ],
)
def test_numbers_equal(answer: str | None, expected: str, equal: bool) -> None:
    assert numbers_equal(answer, expected) is equal


def test_extract_weekday() -> None:
    assert extract_weekday("Not Monday: it was a tuesday.") == "Tuesday"
    assert extract_weekday("no day here") is None


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("The date is 2024-03-05.", "2024-03-05"),
        ("It falls on March 5, 2024.", "2024-03-05"),
        ("That is Mar 5th 2024.", "2024-03-05"),
        ("On 5 March 2024, then 2024-04-01.", "2024-04-01"),
        ("From 2024-01-01 the answer is June 30, 2025.", "2025-06-30"),
        ("February 30, 2024 is not a date.", None),
    ],
)
def test_extract_date(text: str, day: str | None) -> None:
    assert extract_date(text) == day


@pytest.mark.parametrize(
    ("text", "expected", "given"),
    [
        ('"yrrebwarts"', "yrrebwarts", True),
        ("Reversed, strawberry is 'yrrebwarts'.", "yrrebwarts", True),
        ("The result is **yrrebwarts**.", "yrrebwarts", True),
        ("The result is `yrrebwarts`", "yrrebwarts", True),
        ("Strawberry backwards: yrrebwarts.", "yrrebwarts", True),
        ("It reads “yrrebwarts” backwards.", "yrrebwarts", True),
        ("yrrebwarts", "yrrebwarts", True),
        ("Reversed: yrrebwartss", "yrrebwarts", False),  # a whole token or nothing
        ("Reversed: xyrrebwarts", "yrrebwarts", False),
        ('In uppercase, "good morning" is "GOOD MORNING".', "GOOD MORNING", True),
        ('In uppercase it is "Good Morning".', "GOOD MORNING", False),  # case counts
        ("'good morning' in capitals", "GOOD MORNING", False),
        ("The top earner is Priya Patel, with 19,776.31.", "Priya Patel", True),
        ("The top earner is Priya Patelson.", "Priya Patel", False),
        ("The 6th letter of balloon is 'o'.", "o", True),
        ('The 6th letter is "o".', "o", True),
        ("The 6th letter is **o**.", "o", True),
        ("The 6th letter of balloon is o.", "o", False),  # a bare letter is not read from prose
        ("The letter is a 'l'.", "a", False),  # ... which is why: the article
        ("It's 's'", "s", True),
        ("It's 'x'.", "s", False),
        ("It's the letter t", "s", False),
        ("", "x", False),
    ],
)
def test_gives_text(text: str, expected: str, given: bool) -> None:
    assert gives_text(text, expected) is given


def test_a_bare_letter_counts_in_program_output() -> None:
    assert gives_text("o\n", "o", bare_letter=True)
    assert gives_text("Character 6: o\n", "o", bare_letter=True)
    assert not gives_text("Character 6: n\n", "o", bare_letter=True)
    assert not gives_text("anything", "", bare_letter=True)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("It is 'noynac', I think; or \"noyna\".", "noyna"),
        ("The name is **Priya Patel**.", "Priya Patel"),
        ("Use `s[::-1]`.", "s[::-1]"),
        ("It's not quoted, isn't it?", None),
        ("", None),
    ],
)
def test_extract_quoted(text: str, quoted: str | None) -> None:
    assert extract_quoted(text) == quoted


FUNCTION = "def add(a, b):\n    return a + b\n"


def test_the_last_block_defining_the_function() -> None:
    transcript = (
        f"First try:\n```python\ndef add(a, b):\n    return a - b\n```\nFixed:\n```python\n{FUNCTION}```\n"
        "And a test:\n```python\nprint(add(1, 2))\n```\n"
    )
    assert extract_program(transcript, "add") == FUNCTION


def test_plain_and_py_fences_count_other_languages_do_not() -> None:
    assert extract_program(f"```\n{FUNCTION}```", "add") == FUNCTION
    assert extract_program(f"```py\n{FUNCTION}```", "add") == FUNCTION
    assert extract_program(f"```bash\n{FUNCTION}```", "add") is None


def test_a_bare_body_or_an_unfenced_definition() -> None:
    assert extract_program("```python\n    return a + b\n```", "add") == "    return a + b\n"
    assert extract_program(f"Here it is:\n{FUNCTION}", "add") == FUNCTION
    assert extract_program("No code, sorry.", "add") is None


def test_another_function_with_a_longer_name_is_not_it() -> None:
    other = "def add_all(xs):\n    return sum(xs)\n"
    assert extract_program(f"```python\n{FUNCTION}```\n```python\n{other}```", "add") == FUNCTION
    assert extract_program(other, "add") is None
