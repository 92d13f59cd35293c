"""Suites load from installed packages (no network), with stable ids and answers of the right kind."""

from __future__ import annotations

import base64
import datetime
import json
import re
from pathlib import Path

import pytest

from codeloop.errors import InvalidRequest
from codeloop.eval.extract import WEEKDAYS, extract_program
from codeloop.eval.items import Attachment
from codeloop.eval.suites import SUITES, load_suite
from codeloop.eval.suites.humaneval import check_program


def test_gsm8k() -> None:
    suite = load_suite("gsm8k")
    assert len(suite.items) == 100
    first = suite.items[0]
    assert first.id == "gsm8k-test-0013"
    assert first.question.startswith("Melanie is a door-to-door saleswoman.")
    assert first.expected == "18" and first.kind == "number"
    assert all(re.fullmatch(r"-?\d+", item.expected) for item in suite.items)
    assert len({item.id for item in suite.items}) == 100


def test_humaneval() -> None:
    suite = load_suite("humaneval")
    assert len(suite.items) == 164
    first = suite.items[0]
    assert first.id == "HumanEval/0" and first.kind == "code"
    assert first.data["entry_point"] == "has_close_elements"
    assert "def has_close_elements" in first.question and "```python" in first.question
    assert "def check(candidate)" in first.data["test"]


def test_humaneval_check_program_puts_the_reply_after_the_prompt() -> None:
    item = load_suite("humaneval").items[0]
    full = "def has_close_elements(numbers, threshold):\n    return True\n"
    program = check_program(item, full)
    assert program.startswith(item.data["prompt"])
    assert program.index(full) < program.index("def check(candidate)")
    assert program.rstrip().endswith("check(has_close_elements)")
    body = "    return True\n"
    assert check_program(item, body).startswith(item.data["prompt"] + body)
    compile(program, "check", "exec")


def test_each_humaneval_canonical_solution_is_found_in_a_fenced_reply() -> None:
    for item in load_suite("humaneval").items:
        reply = f"Here:\n```python\n{item.data['prompt']}    pass\n```\n"
        assert extract_program(reply, item.data["entry_point"]) is not None


@pytest.mark.parametrize("name", ["arithmetic", "letters", "calendar"])
def test_generated_suites_are_the_same_every_time(name: str) -> None:
    first, again = load_suite(name), load_suite(name)
    assert first == again
    assert len(first.items) == 100 and len({item.id for item in first.items}) == 100
    assert first.items[0].id == f"{name}-0000"


def test_arithmetic_answers_are_right() -> None:
    for item in load_suite("arithmetic").items:
        expression = re.search(r"What is (.+)\?", item.question)
        assert expression is not None
        assert re.fullmatch(r"[\d +*-]+", expression.group(1))
        # Only digits, spaces and + - * (checked above): safe to evaluate.
        assert eval(expression.group(1)) == int(item.expected)


def test_letter_counts_are_right() -> None:
    for item in load_suite("letters").items:
        match = re.search(r'letter "(\w)" appear in the text: "([^"]+)"', item.question)
        assert match is not None
        assert match.group(2).count(match.group(1)) == int(item.expected) > 0


def test_calendar_answers_are_right() -> None:
    kinds = set()
    for item in load_suite("calendar").items:
        kinds.add(item.kind)
        dates = [
            datetime.datetime.strptime(found, "%B %d, %Y").date()
            for found in re.findall(r"[A-Z][a-z]+ \d{1,2}, \d{4}", item.question)
        ]
        if item.kind == "weekday":
            assert item.expected == WEEKDAYS[dates[0].weekday()]
        elif item.kind == "number":
            assert (dates[1] - dates[0]).days == int(item.expected)
        else:
            days = int(re.search(r"What date is (\d+) days after", item.question).group(1))
            assert (dates[0] + datetime.timedelta(days=days)).isoformat() == item.expected
    assert kinds == {"weekday", "number", "date"}


def test_a_jsonl_suite(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    rows = [
        {"id": "a", "question": "2 + 2?", "answer": 4},
        {"id": "b", "question": "Which day?", "answer": "Friday", "kind": "weekday"},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n")
    suite = load_suite(str(path))
    assert suite.name == "mine"
    assert [(item.id, item.question, item.expected, item.kind) for item in suite.items] == [
        ("a", "2 + 2?", "4", "number"),
        ("b", "Which day?", "Friday", "weekday"),
    ]


def test_a_jsonl_item_with_a_text_answer_and_files(tmp_path: Path) -> None:
    path = tmp_path / "files.jsonl"
    csv, data = b"x\n1\n2\n", base64.b64encode(b"\x00\xff").decode()
    files = [
        {"mime_type": "text/csv", "data": base64.b64encode(csv).decode()},
        {"mime_type": "application/octet-stream", "data": data, "display_name": "blob.bin"},
    ]
    row = {"id": "f", "question": "Top name?", "answer": "Ann Lee", "kind": "text", "attachments": files}
    path.write_text(json.dumps(row) + "\n")
    (item,) = load_suite(str(path)).items
    assert (item.kind, item.expected) == ("text", "Ann Lee")
    assert item.attachments == (
        Attachment("text/csv", csv),
        Attachment("application/octet-stream", b"\x00\xff", "blob.bin"),
    )


@pytest.mark.parametrize(
    "line",
    [
        '{"id": "a", "question": "q"}',
        "not json",
        '{"id": "a", "question": "q", "answer": 1, "kind": "code"}',
        '{"id": "a", "question": "q", "answer": 1, "attachments": [{"mime_type": "text/csv", "data": "%%"}]}',
        '{"id": "a", "question": "q", "answer": 1, "attachments": [{"data": "eA=="}]}',
        '{"id": "a", "question": "q", "answer": 1, "attachments": ["eA=="]}',
        '{"id": "a", "question": "q", "answer": 1, "attachments": [{"mime_type": "t", "data": 5}]}',
    ],
)
def test_a_bad_jsonl_line_is_named(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(InvalidRequest, match="line 1"):
        load_suite(str(path))


def test_unknown_suites_list_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="gsm8k, humaneval"):
        load_suite("mmlu")
    with pytest.raises(InvalidRequest, match="Cannot read"):
        load_suite(str(tmp_path / "missing.jsonl"))
    assert list(SUITES) == ["gsm8k", "humaneval", "arithmetic", "letters", "calendar", "typical"]
