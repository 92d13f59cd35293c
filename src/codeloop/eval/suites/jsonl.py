"""A suite of your own: a JSONL file, one {"id", "question", "answer"} object per line.

The question goes to the model as it is written; `kind` (number, weekday or date; default number)
says how the answer is read and compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

from codeloop.errors import InvalidRequest
from codeloop.eval.items import AnswerKind, Item
from codeloop.eval.suites.base import Suite

KINDS = ("number", "weekday", "date")


def load(path: Path) -> Suite:
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise InvalidRequest(f"Cannot read the suite file {path}: {exc.strerror}.") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            kind = row.get("kind", "number")
            if kind not in KINDS:
                raise ValueError(f"kind must be one of {', '.join(KINDS)}")
            items.append(
                Item(str(row["id"]), str(row["question"]), str(row["answer"]), cast(AnswerKind, kind))
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidRequest(f"{path}, line {number}: not a suite item ({exc!s}).") from None
    return Suite(path.stem, tuple(items))
