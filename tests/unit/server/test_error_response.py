"""Errors of the tree as answers: Google's body, with the headers each class asks for."""

from __future__ import annotations

import json

import pytest

from codeloop.errors import (
    CodeloopError,
    DiskFull,
    HeadersTooLarge,
    InvalidRequest,
    QuotaExceeded,
    RequestTimeout,
    SessionLost,
)
from codeloop.server.handlers import error_response


@pytest.mark.parametrize(
    ("error", "code", "status", "headers"),
    [
        (QuotaExceeded("busy"), 429, "RESOURCE_EXHAUSTED", {"retry-after": "1"}),
        (RequestTimeout("slow"), 408, "DEADLINE_EXCEEDED", {"connection": "close"}),
        (HeadersTooLarge("big"), 431, "INVALID_ARGUMENT", {"connection": "close"}),
        (DiskFull("full"), 503, "UNAVAILABLE", {}),
        (SessionLost("its node is gone"), 503, "UNAVAILABLE", {}),
        (InvalidRequest("bad"), 400, "INVALID_ARGUMENT", {}),
    ],
)
def test_each_class_brings_its_code_status_and_headers(
    error: CodeloopError, code: int, status: str, headers: dict[str, str]
) -> None:
    response = error_response(error, {"x-goog-upload-status": "final"})
    assert response.status_code == code
    assert json.loads(bytes(response.body)) == {
        "error": {"code": code, "message": error.message, "status": status}
    }
    extra = {k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")}
    assert extra == {"x-goog-upload-status": "final", **headers}
