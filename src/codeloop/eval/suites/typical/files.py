"""Questions over an attached CSV or JSON file: a column's sum, mean or maximum, a count of the rows that
match, a group's total, and whose value is largest. The file is made per item and sent as a client
sends one, inlineData after the question; its first lines are all a model sees without running code.

Each draft's `data` names the query (aggregate, column, group and its column, threshold), so that a
check can work the answer out again from the attached bytes alone.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from codeloop.eval.items import AnswerKind, Attachment
from codeloop.eval.suites.typical.family import Draft, Family, ask, rounded

_FIRST_NAMES = """\
Alice Ben Chloe Daniel Emma Farid Grace Hiro Isla Jonas Kofi Lena Marco Nadia Omar Priya Quinn Rosa
Sam Tara Uma Victor Wei Yara Zoe Ivan Maya Leo Nora Ravi
"""
_LAST_NAMES = "Chen Garcia Smith Okafor Novak Patel Rossi Kim Silva Dubois Khan Muller Tanaka Jensen Cohen"
PEOPLE = tuple(f"{first} {last}" for first in _FIRST_NAMES.split() for last in _LAST_NAMES.split())


@dataclass(frozen=True)
class Column:
    name: str
    low: int
    high: int
    decimals: int = 0
    spoken: str = ""  # how a person names it, when not by its header
    additive: bool = True  # a total of it means something (of sales, yes; of ages, no)

    @property
    def said(self) -> str:
        return self.spoken or self.name


@dataclass(frozen=True)
class Table:
    about: str  # what the file holds, as the question says it
    group_column: str
    groups: tuple[str, ...]
    columns: tuple[Column, ...]


TABLES = (
    Table(
        "our sales reps and what they sold this quarter",
        "region",
        ("North", "South", "East", "West"),
        (Column("units", 5, 400, spoken="units sold"), Column("revenue", 100, 20_000, 2)),
    ),
    Table(
        "our staff list",
        "department",
        ("Sales", "Engineering", "Support", "Marketing"),
        (Column("age", 22, 64, additive=False), Column("salary", 35_000, 180_000)),
    ),
    Table(
        "my students' exam results",
        "class",
        ("A", "B", "C"),
        (
            Column("math", 20, 100, spoken="math score", additive=False),
            Column("science", 20, 100, spoken="science score", additive=False),
        ),
    ),
    Table(
        "the members of our running club",
        "team",
        ("Red", "Blue", "Green"),
        (Column("runs", 1, 60, spoken="number of runs"), Column("distance_km", 5, 900, 1, "distance (km)")),
    ),
)


@dataclass(frozen=True)
class Row:
    name: str
    group: str
    values: dict[str, Decimal]  # by column name


def _rows(rng: random.Random, table: Table) -> list[Row]:
    rows = []
    for name in rng.sample(PEOPLE, rng.randint(15, 40)):
        values = {}
        for column in table.columns:
            scale = 10**column.decimals
            value = Decimal(rng.randint(column.low * scale, column.high * scale)) / scale
            values[column.name] = value.quantize(Decimal(1).scaleb(-column.decimals))
        rows.append(Row(name, rng.choice(table.groups), values))
    return rows


def encode(table: Table, rows: list[Row], as_json: bool) -> Attachment:
    """The rows as a file: a CSV with a header, or a JSON array of objects with numbers as numbers."""
    records: list[dict[str, str | Decimal]] = [
        {"name": row.name, table.group_column: row.group, **row.values} for row in rows
    ]
    if as_json:
        numbers = [{key: _json_value(value) for key, value in record.items()} for record in records]
        return Attachment("application/json", json.dumps(numbers, indent=2).encode())
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return Attachment("text/csv", out.getvalue().encode())


def _json_value(value: str | Decimal) -> str | int | float:
    if isinstance(value, str):
        return value
    return int(value) if value == value.to_integral_value() else float(value)


Aggregate = Literal["sum", "mean", "max", "count", "argmax"]


@dataclass(frozen=True)
class Query:
    aggregate: Aggregate
    column: str
    group: str = ""  # only the rows of this group (in the table's group column)
    above: str = ""  # only the rows whose column is above this (count)


def answer(rows: list[Row], query: Query) -> str | None:
    """The query's answer, or None when it has none worth asking (a tie for the largest)."""
    chosen = [row for row in rows if not query.group or row.group == query.group]
    if query.above:
        chosen = [row for row in chosen if row.values[query.column] > Decimal(query.above)]
    values = [row.values[query.column] for row in chosen]
    if query.aggregate == "count":
        return str(len(chosen))
    if query.aggregate == "sum":
        return f"{sum(values, Decimal(0)):f}"
    if query.aggregate == "mean":
        return rounded(sum(values, Decimal(0)) / len(values), 2)
    top = max(values)
    if values.count(top) > 1:
        return None
    return f"{top:f}" if query.aggregate == "max" else chosen[values.index(top)].name


def _asked(rng: random.Random, pick: Callable[[random.Random, Table], Query | None]) -> Asked:
    """A table and a query of it that has an answer (no tie for the largest, no empty count)."""
    while True:
        table = rng.choice(TABLES)
        if (query := pick(rng, table)) is None:
            continue
        rows = _rows(rng, table)
        expected = answer(rows, query)
        if expected is not None and (query.aggregate != "count" or expected != "0"):
            as_json = rng.random() < 0.5
            return Asked(
                table, query, expected, encode(table, rows, as_json), "JSON file" if as_json else "CSV"
            )


@dataclass(frozen=True)
class Asked:
    table: Table
    query: Query
    expected: str
    file: Attachment
    kind: str  # the file's kind, as the question names it

    @property
    def said(self) -> str:
        """The queried column as a person names it."""
        return next(c.said for c in self.table.columns if c.name == self.query.column)

    def draft(self, question: str, answer_kind: AnswerKind = "number") -> Draft:
        data = {"group_column": self.table.group_column, **vars(self.query)}
        return Draft(question, self.expected, answer_kind, data, (self.file,))


def _column(rng: random.Random, table: Table) -> str:
    return rng.choice(table.columns).name


def _total(rng: random.Random, table: Table, grouped: bool) -> Query | None:
    """A total of a column that adds up, over a group or the whole table; None when the table has none."""
    additive = [column.name for column in table.columns if column.additive]
    if not additive:
        return None
    return Query("sum", rng.choice(additive), rng.choice(table.groups) if grouped else "")


def _sum(rng: random.Random, coded: bool) -> Draft:
    asked = _asked(rng, lambda rng, table: _total(rng, table, grouped=False))
    column, about, kind = asked.query.column, asked.table.about, asked.kind
    return asked.draft(
        ask(
            coded,
            f"The attached {kind} has {about}. What is the total {asked.said}?",
            f"Write code to read the attached {kind} ({about}) and sum the {column} column.",
        )
    )


def _mean(rng: random.Random, coded: bool) -> Draft:
    asked = _asked(rng, lambda rng, table: Query("mean", _column(rng, table)))
    column, about, kind = asked.query.column, asked.table.about, asked.kind
    return asked.draft(
        ask(
            coded,
            f"Here's a {kind} of {about}. What's the average {asked.said}? Round to two decimal places.",
            f"Using code, compute the mean of the {column} column in the attached {kind} ({about}), "
            "rounded to two decimal places.",
        )
    )


def _max(rng: random.Random, coded: bool) -> Draft:
    asked = _asked(rng, lambda rng, table: Query("max", _column(rng, table)))
    column, about, kind = asked.query.column, asked.table.about, asked.kind
    return asked.draft(
        ask(
            coded,
            f"What is the highest {asked.said} in the attached {kind}? It has {about}.",
            f"Write a program that finds the maximum {column} in the attached {kind} ({about}).",
        )
    )


def _count(rng: random.Random, coded: bool) -> Draft:
    def pick(rng: random.Random, table: Table) -> Query:
        column = rng.choice(table.columns)
        span = column.high - column.low
        threshold = rng.randint(column.low + span // 4, column.low + span * 3 // 4)
        return Query("count", column.name, rng.choice(table.groups), str(threshold))

    asked = _asked(rng, pick)
    query, about, kind = asked.query, asked.table.about, asked.kind
    where = f"{asked.table.group_column} {query.group}"
    return asked.draft(
        ask(
            coded,
            f"The attached {kind} has {about}. How many people in {where} have {asked.said} above "
            f"{query.above}?",
            f"Use code to count the rows of the attached {kind} ({about}) with {where} and "
            f"{query.column} greater than {query.above}.",
        )
    )


def _group_sum(rng: random.Random, coded: bool) -> Draft:
    asked = _asked(rng, lambda rng, table: _total(rng, table, grouped=True))
    query, about, kind = asked.query, asked.table.about, asked.kind
    where = f"{asked.table.group_column} {query.group}"
    return asked.draft(
        ask(
            coded,
            f"This {kind} has {about}. What is the total {asked.said} for {where}?",
            f"Compute the sum of {query.column} over the rows with {where} in the attached {kind} ({about}).",
        )
    )


def _argmax(rng: random.Random, coded: bool) -> Draft:
    asked = _asked(rng, lambda rng, table: Query("argmax", _column(rng, table)))
    column, about, kind = asked.query.column, asked.table.about, asked.kind
    return asked.draft(
        ask(
            coded,
            f"The attached {kind} has {about}. Who has the highest {asked.said}? Give their full name.",
            f"Use code to read the attached {kind} ({about}) and find the name of the person with the "
            f"largest {column}.",
        ),
        "text",
    )


FILES = Family("files", (_sum, _mean, _max, _count, _group_sum, _argmax))
