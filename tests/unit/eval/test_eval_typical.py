"""The typical suite: its shape, its fixed questions, its attached files, and how its replies grade."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import re
import statistics
from collections import Counter
from decimal import Decimal

import pytest

from codeloop.eval.items import Item, Trail
from codeloop.eval.split import select
from codeloop.eval.suites import SUITES, load_suite, typical
from codeloop.eval.suites.base import grade_text
from codeloop.execution import Execution, Outcome
from codeloop.loop.events import Usage

SUITE = load_suite("typical")
FAMILIES = [family.name for family in typical.FAMILIES]
# Words that ask for code; the other half of the questions ask as if there were none.
CODE_WORDS = re.compile(r"\b(calculate|compute|code|program|python|sympy|numpy)\b", re.IGNORECASE)


def family_of(item: Item) -> str:
    match = re.fullmatch(r"typical-([a-z]+)-\d{2}", item.id)
    assert match is not None, item.id
    return match.group(1)


def test_the_suite_is_registered_with_240_items_or_more() -> None:
    assert "typical" in SUITES and "240" in SUITES["typical"][0]
    assert len(SUITE.items) >= 240
    assert len({item.id for item in SUITE.items}) == len(SUITE.items)
    assert all(item.question and item.expected for item in SUITE.items)


def test_it_is_the_same_every_time() -> None:
    assert load_suite("typical") == SUITE


def test_an_item_does_not_depend_on_the_suite_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(typical, "PER_FAMILY", 30)
    bigger = {item.id: item for item in typical.load().items}
    assert len(bigger) == 300
    assert all(bigger[item.id] == item for item in SUITE.items)


def test_ten_families_in_equal_shares_each_in_both_splits() -> None:
    assert len(FAMILIES) == 10
    assert Counter(family_of(item) for item in SUITE.items) == dict.fromkeys(FAMILIES, 24)
    for split in ("dev", "test"):
        assert {family_of(item) for item in select(SUITE.items, split)} == set(FAMILIES)


def test_about_half_the_questions_ask_for_code() -> None:
    coded = [item for item in SUITE.items if CODE_WORDS.search(item.question)]
    assert 0.4 <= len(coded) / len(SUITE.items) <= 0.6
    for name in FAMILIES:
        questions = [item.question for item in SUITE.items if family_of(item) == name]
        assert 0.3 <= sum(bool(CODE_WORDS.search(q)) for q in questions) / len(questions) <= 0.7, name


def test_each_family_asks_in_at_least_three_ways() -> None:
    for name in FAMILIES:
        openings = {" ".join(item.question.split()[:3]) for item in SUITE.items if family_of(item) == name}
        assert len(openings) >= 3, name


def test_the_fixed_questions() -> None:
    by_question = {item.question: item for item in SUITE.items}
    first_50 = [
        "What is the sum of the first 50 prime numbers?",
        "Sum the first 50 primes.",
        "What do the first fifty prime numbers add up to?",
        "What is the sum of the first 50 prime numbers? Generate and run code for the calculation, "
        "and make sure you get all 50.",
        "Calculate the sum of the first 50 primes.",
    ]
    primes = [n for n in range(2, 300) if all(n % d for d in range(2, math.isqrt(n) + 1))]
    for question in first_50:
        assert by_question[question].expected == str(sum(primes[:50])) == "5117"
    assert by_question["How many r's are in strawberry?"].expected == "3"
    assert by_question["What is 17 factorial?"].expected == "355687428096000"
    weekday = by_question["On which day of the week was 14 July 1789?"]
    assert (weekday.expected, weekday.kind) == ("Tuesday", "weekday")


def test_string_answers_are_text_and_files_are_attached() -> None:
    kinds = Counter(item.kind for item in SUITE.items)
    assert set(kinds) == {"number", "weekday", "date", "text"}
    for item in SUITE.items:
        family = family_of(item)
        assert bool(item.attachments) == (family == "files"), item.id
        if family == "strings":
            assert item.kind == "text"


def rows_of(item: Item) -> list[dict[str, str]]:
    """The attached file's rows, all values as text, parsed as its MIME type says."""
    (file,) = item.attachments
    text = file.data.decode("utf-8")
    assert file.display_name is None  # as the Gemini API sends it: the sandbox names the file
    if file.mime_type == "text/csv":
        assert "CSV" in item.question
        return list(csv.DictReader(io.StringIO(text)))
    assert file.mime_type == "application/json" and "JSON" in item.question
    records = json.loads(text)
    assert isinstance(records, list) and all(isinstance(record, dict) for record in records)
    return [{key: str(value) for key, value in record.items()} for record in records]


FILE_ITEMS = [item for item in SUITE.items if item.attachments]


@pytest.mark.parametrize("item", FILE_ITEMS, ids=[item.id for item in FILE_ITEMS])
def test_the_answer_is_in_the_attached_file(item: Item) -> None:
    """Worked out again from the file's bytes and the query the item names, with statistics."""
    rows = rows_of(item)
    assert 15 <= len(rows) <= 40
    data = item.data
    column = data["column"]
    assert column in item.question or column.split("_")[0] in item.question
    if data["group"]:
        assert data["group"] in item.question
        rows = [row for row in rows if row[data["group_column"]] == data["group"]]
    if data["above"]:
        assert data["above"] in item.question
        rows = [row for row in rows if Decimal(row[column]) > Decimal(data["above"])]
    values = [Decimal(row[column]) for row in rows]
    aggregate = data["aggregate"]
    if aggregate == "count":
        assert int(item.expected) == len(rows) > 0
    elif aggregate == "sum":
        assert Decimal(item.expected) == sum(values)
    elif aggregate == "mean":
        assert abs(Decimal(item.expected) - statistics.mean(values)) <= Decimal("0.005")
    elif aggregate == "max":
        assert Decimal(item.expected) == max(values)
    else:
        assert aggregate == "argmax" and item.kind == "text"
        (top,) = [row for row in rows if Decimal(row[column]) == max(values)]
        assert item.expected == top["name"]
    assert aggregate in {"count", "sum", "mean", "max", "argmax"}


def test_every_query_is_asked_of_both_kinds_of_file() -> None:
    assert {item.attachments[0].mime_type for item in FILE_ITEMS} == {"text/csv", "application/json"}
    assert {item.data["aggregate"] for item in FILE_ITEMS} == {"count", "sum", "mean", "max", "argmax"}


def grade(item: Item, text: str, *outputs: str) -> bool:
    executions = tuple(Execution(Outcome.OUTCOME_OK, output) for output in outputs)
    trail = Trail(text, text, (), executions, "STOP", Usage(), 0.0)
    assert SUITE.grade is grade_text
    return asyncio.run(grade_text(item, trail, sandbox=None)).correct


def first(predicate: str) -> Item:
    return next(item for item in SUITE.items if re.search(predicate, item.question))


def test_real_looking_replies_grade_by_kind() -> None:
    primes = first(r"^What is the sum of the first 50 prime numbers\?$")
    assert grade(primes, "The sum of the first 50 prime numbers is **5,117**.", "5117\n")
    assert not grade(primes, "The first 50 primes add up to 5,115.")
    assert grade(primes, "The result is shown above.", "Sum of first 50 primes: 5117\n")

    factorial = first(r"^What is 17 factorial\?$")
    assert grade(factorial, "17! = 355,687,428,096,000")
    assert not grade(factorial, "17! is about 3.556874e14.")

    bastille = first(r"14 July 1789")
    assert grade(bastille, "14 July 1789 was a Tuesday.", "Tuesday\n")
    assert not grade(bastille, "It was a Wednesday.")

    later = first(r"What date is [\d,]+ days after .*YYYY-MM-DD")
    assert grade(later, f"That date is {later.expected}.")
    assert not grade(later, "That date is 1999-01-01.")

    reverse = next(item for item in SUITE.items if "spelled backwards" in item.question)
    word = re.search(r"What is (\w+) spelled backwards", reverse.question).group(1)
    assert grade(reverse, f"{word} spelled backwards is **{word[::-1]}**.")
    assert not grade(reverse, f"{word} spelled backwards is **{word[::-1]}x**.")

    rounded = first(r"Round to the cent")
    assert grade(rounded, f"You'd have ${Decimal(rounded.expected):,}.")
    assert not grade(rounded, f"You'd have ${Decimal(rounded.expected) + Decimal('0.01'):,}.")


def test_a_file_question_grades_its_name_answer_as_text() -> None:
    argmax = next(item for item in FILE_ITEMS if item.data["aggregate"] == "argmax")
    assert grade(argmax, f"{argmax.expected} has the highest value.")
    assert grade(argmax, "The top row is printed above.", f"name    {argmax.expected}\n")
    other = next(name for name in (row["name"] for row in rows_of(argmax)) if name != argmax.expected)
    assert not grade(argmax, f"It is {other}.")


def test_every_expected_answer_reads_back_as_right() -> None:
    """Said in a sentence, or only printed by the code, each answer grades right: none is written in a
    form its kind's extractor cannot read (a date it does not know, a number it splits)."""
    for item in SUITE.items:
        said = f"'{item.expected}'" if len(item.expected) == 1 else item.expected  # as asked: quoted
        assert grade(item, f"After running it, I get {said}."), item.id
        assert grade(item, "The result is printed above.", f"{item.expected}\n"), item.id
        assert not grade(item, "I could not work it out."), item.id


def test_repeating_the_question_never_gives_a_string_answer() -> None:
    texts = [item for item in SUITE.items if item.kind == "text"]
    assert len(texts) >= 24
    for item in texts:
        assert not grade(item, f"You asked: {item.question}"), item.id
