"""Google's error body: {"error": {"code", "message", "status"}}, the shape google-genai parses."""

from __future__ import annotations

from typing import Any

from codeloop.errors import CodeloopError


def error_body(code: int, message: str, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def error_body_for(exc: CodeloopError) -> dict[str, Any]:
    return error_body(exc.code, exc.message, exc.status)
