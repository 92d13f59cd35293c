"""Log lines carry their request's id, as key=value text or as JSON."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

from codeloop.server.logs import (
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    configure_logging,
    current_request_id,
    request_id_for,
    set_request_id,
)


def record(message: str = "request", **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("codeloop.server", logging.INFO, __file__, 1, message, None, None)
    made.__dict__.update(extra)
    RequestIdFilter().filter(made)
    return made


def test_a_sane_client_id_is_kept_and_anything_else_replaced() -> None:
    assert request_id_for("abc-123_x.y:z") == "abc-123_x.y:z"
    for bad in (None, "", "has space", "x" * 129, "new\nline", 'quote"'):
        made = request_id_for(bad)
        assert made != bad and len(made) == 32


def test_records_take_the_current_request_id() -> None:
    async def in_a_request(request_id: str) -> str:
        set_request_id(request_id)
        await asyncio.sleep(0)
        return str(record().__dict__["request_id"])

    async def two_requests() -> list[str]:
        return list(await asyncio.gather(in_a_request("one"), in_a_request("two")))

    assert asyncio.run(two_requests()) == ["one", "two"]
    assert current_request_id() is None
    assert record().__dict__["request_id"] == "-"
    assert record(request_id="given").__dict__["request_id"] == "given"


def test_text_lines_are_key_value() -> None:
    line = TextFormatter().format(
        record(request_id="r1", fields={"method": "POST", "status": 200, "path": "/a b"})
    )
    assert " level=INFO logger=codeloop.server request_id=r1 request " in line
    assert line.endswith('method=POST status=200 path="/a b"')


def test_json_lines_are_objects() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record("it failed", request_id="r2", fields={"status": 500}, exc_info=sys.exc_info())
    entry = json.loads(JsonFormatter().format(failed))
    assert entry["request_id"] == "r2" and entry["message"] == "it failed" and entry["status"] == 500
    assert entry["level"] == "INFO" and entry["logger"] == "codeloop.server"
    assert "ValueError: boom" in entry["exception"]


def test_configure_logging_replaces_its_own_handler() -> None:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        configure_logging("info", "text")
        configure_logging("info", "json")
        ours = [h for h in root.handlers if h not in before]
        assert len(ours) == 1 and isinstance(ours[0].formatter, JsonFormatter)
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
        root.setLevel(level)
