from __future__ import annotations

import pytest

from codeloop.errors import InvalidRequest
from codeloop.wire.lenient import loads


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": [1, 2]}', {"a": [1, 2]}),
        ("{'a': 'b'}", {"a": "b"}),
        ("{'a': 'it\\'s'}", {"a": "it's"}),
        ("{'a': 'say \"hi\"'}", {"a": 'say "hi"'}),
        ('{"a": [1, 2,], }', {"a": [1, 2]}),
        ("{a: {b_c: 1}}", {"a": {"b_c": 1}}),
        ('{"text": "it\'s, ] fine", }', {"text": "it's, ] fine"}),
        ('{"t": "a: b, }"}', {"t": "a: b, }"}),
        ("{'x': '\\n'}", {"x": "\n"}),
    ],
)
def test_accepts(text: str, expected: object) -> None:
    assert loads(text) == expected
    assert loads(text.encode()) == expected


def test_keeps_double_quoted_strings_untouched() -> None:
    assert loads("""{"code": "print('a, }')", 'k': 1,}""") == {"code": "print('a, }')", "k": 1}


@pytest.mark.parametrize("text", ["", "{", "{'a': }", "[1 2]", "{'a' 'b'}", "nul"])
def test_rejects(text: str) -> None:
    with pytest.raises(InvalidRequest, match="Invalid JSON payload"):
        loads(text)


def test_large_strict_body_takes_the_fast_path() -> None:
    big = '{"data": "' + "A" * 5_000_000 + '"}'
    assert len(loads(big)["data"]) == 5_000_000


def test_large_lenient_body() -> None:
    big = "{'data': '" + "A" * 5_000_000 + "',}"
    assert len(loads(big)["data"]) == 5_000_000
