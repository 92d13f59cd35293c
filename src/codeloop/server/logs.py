"""Log lines that carry their request's id: a context variable, a filter that reads it, text or JSON."""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID_HEADER = "x-request-id"
_current: ContextVar[str | None] = ContextVar("codeloop_request_id", default=None)
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def request_id_for(given: str | None) -> str:
    """The client's x-request-id if it is a sane token (it ends up in logs and headers), else a new one."""
    if given and _GIVEN_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return _current.get()


def set_request_id(request_id: str | None) -> None:
    """Each request runs in its own task, whose context this changes: no other request sees it."""
    _current.set(request_id)


class RequestIdFilter(logging.Filter):
    """Gives every record a request_id: its own (from extra=), the current request's, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _current.get() or "-"
        return True


class TextFormatter(logging.Formatter):
    """time level=… logger=… request_id=… message key=value…"""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{key}={_quoted(value)}" for key, value in _fields(record).items())
        line = (
            f"{_time(record)} level={record.levelname} logger={record.name} "
            f"request_id={getattr(record, 'request_id', '-')} {record.getMessage()}"
        )
        line = f"{line} {fields}" if fields else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message, and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, log_format: str) -> None:
    """Send every logger's records (uvicorn's too) to stderr through the request id filter."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "codeloop", False)]:
        root.removeHandler(old)
    handler.codeloop = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """Structured fields passed as extra={"fields": {...}}."""
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def _quoted(value: object) -> str:
    text = str(value)
    return json.dumps(text) if not text or any(c in text for c in ' "=\n') else text
