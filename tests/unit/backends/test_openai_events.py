from __future__ import annotations

import pytest

from codeloop.backends.base import Chunk
from codeloop.backends.openai_compat import _parse_event
from codeloop.errors import BackendUnavailable


@pytest.mark.parametrize(
    ("line", "chunk"),
    [
        ('data: {"choices": [{"delta": {"content": "Hi"}, "finish_reason": null}]}', Chunk("Hi")),
        ('data: {"choices": [{"delta": {}, "finish_reason": "length"}]}', Chunk("", "MAX_TOKENS")),
        ('data: {"choices": [{"delta": {"content": "."}, "finish_reason": "stop"}]}', Chunk(".", "STOP")),
        ("data: [DONE]", Chunk("", "STOP")),
        ('data: {"choices": [], "usage": {"prompt_tokens": 3}}', None),
        (": keep-alive", None),
        ("", None),
    ],
)
def test_events(line: str, chunk: Chunk | None) -> None:
    assert _parse_event(line) == chunk


def test_garbage_is_a_backend_error() -> None:
    with pytest.raises(BackendUnavailable, match="unreadable"):
        _parse_event("data: {not json")
