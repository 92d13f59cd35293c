"""The evaluation library without the CLI: a scripted suite in both modes, watched as it runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from codeloop.eval.evaluation import Plan, Started, evaluate
from codeloop.eval.items import Record
from codeloop.eval.report import Mode
from codeloop.settings import Settings

ITEMS = [
    {"id": "product", "question": "```python\nprint(6 * 7)\n```", "answer": "42"},
    {"id": "sum", "question": "```python\nprint(sum(range(10)))\n```", "answer": "46"},
]


class Watch:
    def __init__(self) -> None:
        self.seen: list[object] = []

    def started(self, started: Started) -> None:
        self.seen.append(started)

    @contextlib.contextmanager
    def mode(self, mode: Mode, items: int) -> Iterator[Callable[[Record], None]]:
        self.seen.append((mode, items))
        yield lambda record: self.seen.append((record.id, record.correct))
        self.seen.append((mode, "done"))

    def reported(self, mode: Mode, path: Path) -> None:
        self.seen.append(path.name)


def test_both_modes_are_run_reported_and_charted(tmp_path: Path) -> None:
    suite = tmp_path / "mine.jsonl"
    suite.write_text("".join(json.dumps(item) + "\n" for item in ITEMS))
    plan = Plan(suite=str(suite), split="all", out=tmp_path / "out")
    watch = Watch()
    evaluation = asyncio.run(evaluate(Settings(model="scripted", exec_timeout=5), plan, watch))

    assert watch.seen == [
        Started("mine", "scripted", "all", 2, 2),
        ("code", 2),
        ("product", True),
        ("sum", False),
        ("code", "done"),
        "mine-scripted-all-code.json",
        ("no-code", 2),
        ("product", False),
        ("sum", False),
        ("no-code", "done"),
        "mine-scripted-all-no-code.json",
    ]
    assert evaluation.reports["code"]["summary"]["correct"] == 1 and not evaluation.errors
    assert json.loads(evaluation.paths["no-code"].read_text())["mode"] == "no-code"
    assert evaluation.chart == tmp_path / "out" / "mine-scripted-all-compare.png"
