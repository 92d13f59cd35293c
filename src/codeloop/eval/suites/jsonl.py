"""A suite of your own: a JSONL file, one {"id", "question", "answer"} object per line.

The question goes to the model as it is written; `kind` (number, weekday, date or text; default
number) says how the answer is read and compared. `attachments`, a list of {"mime_type", "data"}
objects with the file's bytes in base64 (and an optional "display_name"), go with the question as
inlineData parts, as a client sends files.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any, cast

from codeloop.errors import InvalidRequest
from codeloop.eval.items import AnswerKind, Attachment, Item
from codeloop.eval.suites.base import Suite

KINDS = ("number", "weekday", "date", "text")


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
                Item(
                    str(row["id"]),
                    str(row["question"]),
                    str(row["answer"]),
                    cast(AnswerKind, kind),
                    attachments=tuple(attachment(file) for file in row.get("attachments", ())),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidRequest(f"{path}, line {number}: not a suite item ({exc!s}).") from None
    return Suite(path.stem, tuple(items))


def attachment(file: dict[str, Any]) -> Attachment:
    try:
        data = base64.b64decode(file["data"], validate=True)
    except binascii.Error:
        raise ValueError("an attachment's data must be base64") from None
    display_name = file.get("display_name")
    return Attachment(str(file["mime_type"]), data, None if display_name is None else str(display_name))
