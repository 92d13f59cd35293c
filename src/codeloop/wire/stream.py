"""Streaming framings of generateContent: a JSON array written as it grows, or Server-Sent Events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


async def sse(bodies: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """`?alt=sse`: one `data: {...}` line and a blank line per chunk."""
    async for body in bodies:
        yield f"data: {_dumps(body)}\r\n\r\n".encode()


async def json_array(bodies: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """The default: `[{...}` then `,\\r\\n{...}` per chunk, then `]`; valid JSON once complete."""
    separator = "["
    async for body in bodies:
        yield f"{separator}{_dumps(body)}".encode()
        separator = ",\r\n"
    yield b"[]" if separator == "[" else b"]"
