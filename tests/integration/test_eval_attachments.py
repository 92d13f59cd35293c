"""An item's attached file reaches the sandbox as a client's inlineData part would: the scripted model's
program reads it where Gemini puts it, and the typical suite's expected answer is what it finds there."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib

import pytest

from codeloop.eval.items import Attachment, Item, Record
from codeloop.eval.runner import run_item
from codeloop.eval.suites import load_suite
from codeloop.eval.suites.base import Suite
from codeloop.runtime import open_runtime
from codeloop.settings import Settings

pytestmark = pytest.mark.timeout(180)

# Worked out in the sandbox from the staged file and the query the item names: the scripted model
# writes this program out as its own and runs it.
PROGRAM = """\
import csv, json, statistics
from decimal import Decimal

name = {name!r}
with open(name) as file:
    rows = json.load(file) if name.endswith(".json") else list(csv.DictReader(file))
query = {query!r}
rows = [row for row in rows if not query["group"] or row[query["group_column"]] == query["group"]]
if query["above"]:
    rows = [row for row in rows if Decimal(str(row[query["column"]])) > Decimal(query["above"])]
values = [Decimal(str(row[query["column"]])) for row in rows]
answers = {{
    "sum": lambda: sum(values),
    "mean": lambda: round(statistics.mean(values), 2),
    "max": lambda: max(values),
    "count": lambda: len(rows),
    "argmax": lambda: rows[values.index(max(values))]["name"],
}}
print(answers[query["aggregate"]]())
"""


def scripted(item: Item) -> Item:
    """The item, its question replaced by the program that answers it from the attached file."""
    name = "input_file_0.json" if item.attachments[0].mime_type == "application/json" else "input_file_0.csv"
    program = PROGRAM.format(name=name, query=item.data)
    return dataclasses.replace(item, question=f"```python\n{program}```")


def run(items: list[Item], code_execution: bool = True) -> list[Record]:
    async def main() -> list[Record]:
        async with open_runtime(Settings(model="scripted", exec_timeout=10)) as runtime:
            engine = await runtime.engine("scripted")
            suite = Suite("typical", tuple(items))
            return [await run_item(engine, suite, item, code_execution) for item in items]

    return asyncio.run(main())


def test_the_typical_file_questions_are_answered_from_the_staged_file() -> None:
    files = [item for item in load_suite("typical").items if item.attachments]
    csv_item = next(item for item in files if item.attachments[0].mime_type == "text/csv")
    json_item = next(item for item in files if item.attachments[0].mime_type == "application/json")
    named = next(item for item in files if item.kind == "text")
    records = run([scripted(csv_item), scripted(json_item), scripted(named)])
    for item, record in zip([csv_item, json_item, named], records, strict=True):
        assert record.error is None and record.failures == 0 and record.blocks == 1, record
        assert record.correct, (item.question, item.expected, record.text)
        assert record.answer == item.expected or float(record.answer or "nan") == float(item.expected)


def test_the_bytes_arrive_unchanged_and_in_order() -> None:
    first, second = b"a,b\n1,2\n\xe2\x82\xac\n", b'{"k": [1, 2, 3]}'
    digests = " ".join(hashlib.sha256(data).hexdigest() for data in (first, second))
    program = (
        "import hashlib\n"
        "print(' '.join(hashlib.sha256(open(n, 'rb').read()).hexdigest() "
        "for n in ('input_file_0.csv', 'input_file_1.json')))\n"
    )
    item = Item(
        "files",
        f"```python\n{program}```",
        digests,
        "text",
        attachments=(Attachment("text/csv", first), Attachment("application/json", second)),
    )
    (record,) = run([item])
    assert record.correct and record.answer == digests, record.text


def test_a_display_name_names_the_file() -> None:
    program = "print(open('sales.csv').read().split()[1])\n"
    item = Item(
        "named",
        f"```python\n{program}```",
        "42",
        attachments=(Attachment("text/csv", b"total\n42\n", display_name="sales.csv"),),
    )
    (record,) = run([item])
    assert record.correct, record.text


def test_without_code_execution_the_file_is_read_in_the_prompt() -> None:
    file = Attachment("text/csv", b"word\nquokka\n")
    item = Item("inline", "What is in the file?", "quokka", "text", attachments=(file,))
    (record,) = run([item], code_execution=False)
    assert record.error is None and record.blocks == 0
    assert record.correct and "quokka" in record.text  # the scripted model echoes its prompt
