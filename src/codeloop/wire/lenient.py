"""Lenient JSON: what Google's endpoints accept beyond strict JSON, as the seed's curl bodies write it.

Accepted on top of RFC 8259: single-quoted strings, trailing commas, and bare identifier keys
(running the seed's `-d $'{ "tools": [{'code_execution': {}}], ...}'` through bash drops the
inner quotes and sends `{code_execution: {}}`). Strict JSON takes the fast path untouched; other
bodies are rewritten to strict JSON by one regular-expression pass, so a large body costs
C-speed scanning, never a Python loop per character.
"""

from __future__ import annotations

import json
import re
from typing import Any

from codeloop.errors import InvalidRequest

_TOKEN = re.compile(
    r"""
      (?P<dq>"(?:[^"\\]|\\.)*")                  # a JSON string, kept as it is
    | '(?P<sq>(?:[^'\\]|\\.)*)'                  # a single-quoted string
    | ,(?P<trail>\s*[\]}])                       # a trailing comma
    | (?P<key>[A-Za-z_$][\w$]*)(?P<colon>\s*:)   # a bare key
    """,
    re.VERBOSE | re.DOTALL,
)


def _rewrite(match: re.Match[str]) -> str:
    if match["dq"] is not None:
        return match["dq"]
    if match["sq"] is not None:
        return _double_quote(match["sq"])
    if match["trail"] is not None:
        return match["trail"]
    return f'"{match["key"]}"{match["colon"]}'


def _double_quote(body: str) -> str:
    # Inside '...', an escaped quote \' means ' and a bare " must be escaped for JSON.
    out = re.sub(r"""\\(.)|(")""", lambda m: '\\"' if m[2] else ("'" if m[1] == "'" else m[0]), body)
    return f'"{out}"'


def loads(body: bytes | str) -> Any:
    """Parse a request body, strictly if possible, leniently if needed; InvalidRequest if neither."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidRequest(f"Invalid JSON payload received. The body is not UTF-8: {exc}.") from None
    else:
        text = body
    try:
        return _parse(text)
    except RecursionError:
        raise InvalidRequest("Invalid JSON payload received. The body nests too deeply.") from None


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as strict_error:
        try:
            return json.loads(_TOKEN.sub(_rewrite, text))
        except json.JSONDecodeError:
            raise InvalidRequest(f"Invalid JSON payload received. {_describe(strict_error)}") from None


def _describe(error: json.JSONDecodeError) -> str:
    return f"{error.msg} at line {error.lineno}, column {error.colno}."
