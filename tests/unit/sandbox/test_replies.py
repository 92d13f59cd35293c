"""A session process's replies are believed only within the wire's limits; anything else names its fault."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from codeloop.execution import BlockStats, NamedFile
from codeloop.sandbox import replies
from codeloop.sandbox.protocol import FILE_BUDGET, MAX_FIGURES, MAX_FILES, MAX_TRAILER_BYTES, InvalidMessage

ID = "0123456789abcdef"
STATS = {"cpu_ms": 1.5, "wall_ms": 2, "peak_memory_bytes": 1 << 20}


def entry(name: str = "out.csv", mime_type: str = "text/csv", data: bytes = b"a,b\n") -> dict[str, Any]:
    return {"name": name, "mime_type": mime_type, "data": base64.b64encode(data).decode()}


def result(**fields: Any) -> dict[str, Any]:
    return {"type": "result", "id": ID, "ok": True, "trailer": "", "files": [], "stats": STATS, **fields}


def fault(reply: dict[str, Any]) -> str:
    with pytest.raises(InvalidMessage) as caught:
        replies.result(reply, ID)
    return str(caught.value)


def test_a_good_result_is_believed() -> None:
    reply = result(ok=False, trailer="Traceback ...\n", files=[entry(), entry("plots/a b.png", "image/png")])
    assert replies.result(reply, ID) == replies.Result(
        False,
        "Traceback ...\n",
        (NamedFile("out.csv", "text/csv", b"a,b\n"), NamedFile("plots/a b.png", "image/png", b"a,b\n")),
        BlockStats(1.5, 2.0, 1 << 20),
    )


def test_the_largest_legitimate_result_is_believed() -> None:
    share = FILE_BUDGET // (MAX_FILES + MAX_FIGURES)
    files = [entry(f"f{i}", data=b"x" * share) for i in range(MAX_FILES + MAX_FIGURES)]
    assert len(replies.result(result(files=files, trailer="é" * (MAX_TRAILER_BYTES // 2)), ID).files) == 200


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"id": "fedcba9876543210"}, "answers another request"),
        ({"ok": 1}, "ok is not a bool"),
        ({"trailer": 3}, "trailer is not a string"),
        ({"trailer": "x" * (MAX_TRAILER_BYTES + 1)}, "trailer is not a string of up to"),
        ({"trailer": "é" * (MAX_TRAILER_BYTES // 2 + 1)}, "trailer is longer than"),
        ({"trailer": "\udc80"}, "trailer is not valid UTF-8"),
        ({"files": {}}, "files are not a list"),
        ({"files": [entry()] * 201}, "lists 201 files, more than 200"),
        ({"files": ["out.csv"]}, "file 1 is not an object"),
        ({"files": [{"name": "a", "mime_type": "text/plain"}]}, "file 1 has no 'data'"),
        ({"files": [{**entry(), "path": "/etc/passwd"}]}, "file 1 has an unknown field 'path'"),
        ({"files": [entry("\ud800")]}, "name '\\ud800' is not valid UTF-8"),
        ({"files": [entry("x" * 50_000_000)]}, "is longer than 1024 bytes"),
        ({"files": [entry("../escape")]}, "has a '..' component"),
        ({"files": [entry("/etc/passwd")]}, "is absolute"),
        ({"files": [entry("a//b")]}, "has an empty component"),
        ({"files": [entry("./a")]}, "has a '.' component"),
        ({"files": [entry("")]}, "has an empty component"),
        ({"files": [entry("a\x00b")]}, "holds a control character"),
        ({"files": [entry("a\nb")]}, "holds a control character"),
        ({"files": [entry("a" * 256)]}, "has a component longer than 255 bytes"),
        ({"files": [entry(7)]}, "is a int, not a string"),  # type: ignore[arg-type]
        ({"files": [entry(mime_type="text/html\r\nX-Evil: 1")]}, "type 'text/html\\r\\nX-Evil: 1' is not"),
        ({"files": [entry(mime_type="text/html; charset=utf-8")]}, "is not a type/subtype"),
        ({"files": [entry(mime_type="text/" + "x" * 300)]}, "is not a type/subtype"),
        ({"files": [entry(mime_type="image")]}, "is not a type/subtype"),
        ({"files": [{**entry(), "data": "abc"}]}, "file 1's data is not base64"),
        ({"files": [{**entry(), "data": "ab!="}]}, "file 1's data is not base64"),
        ({"files": [{**entry(), "data": "é" * 4}]}, "file 1's data is not base64"),
        ({"files": [entry(data=b"x" * (FILE_BUDGET + 1))]}, f"hold more than {FILE_BUDGET} bytes"),
        ({"files": [entry(data=b"x" * (FILE_BUDGET // 2 + 1))] * 2}, "hold more than"),
        ({"stats": None}, "stats are not an object"),
        ({"stats": {**STATS, "cpu_ms": -1}}, "cpu_ms -1 is not a time"),
        ({"stats": {**STATS, "wall_ms": 1e300}}, "wall_ms 1e+300 is not a time"),
        ({"stats": {**STATS, "wall_ms": float("inf")}}, "wall_ms inf is not a time"),
        ({"stats": {**STATS, "cpu_ms": True}}, "cpu_ms True is not a time"),
        ({"stats": {**STATS, "peak_memory_bytes": 1 << 64}}, "peak_memory_bytes"),
        ({"stats": {**STATS, "peak_memory_bytes": 1.5}}, "peak_memory_bytes 1.5 is not a size"),
        ({"stats": {"cpu_ms": 1, "wall_ms": 1}}, "stats has no 'peak_memory_bytes'"),
        ({"extra": 1}, "unknown field 'extra'"),
        ({"type": "put"}, "expected a result message, got type 'put'"),
    ],
)
def test_a_result_past_a_limit_is_refused_and_named(fields: dict[str, Any], named: str) -> None:
    assert named in fault(result(**fields))


def test_missing_fields_are_named() -> None:
    reply = result()
    del reply["stats"]
    assert fault(reply) == "the result message has no 'stats'"


def test_padding_inside_the_data_is_refused_even_across_decoding_pieces() -> None:
    piece = base64.b64encode(b"x" * (3 << 18)).decode()  # exactly one decoding piece
    padded = base64.b64encode(b"xy").decode()
    reply = result(files=[{**entry(), "data": piece[:-4] + padded + piece}])
    assert "data is not base64" in fault(reply)


def test_a_huge_key_or_value_is_named_briefly() -> None:
    message = fault(result(**{"k" * 10_000_000: 1}))
    assert len(message) < 100


def test_put_replies() -> None:
    assert replies.put_error({"type": "put", "id": ID, "ok": True}, ID) is None
    assert replies.put_error({"type": "put", "id": ID, "ok": False, "error": "disk full"}, ID) == "disk full"
    for bad in (
        {"type": "put", "id": "other", "ok": True},
        {"type": "put", "id": ID, "ok": "yes"},
        {"type": "put", "id": ID, "ok": False, "error": "x" * 5000},
        {"type": "put", "id": ID, "ok": False, "error": ["disk full"]},
        {"type": "put", "id": ID, "ok": True, "files": []},
        {"type": "result", "id": ID, "ok": True},
    ):
        with pytest.raises(InvalidMessage):
            replies.put_error(bad, ID)


def test_ids_are_fresh_per_request() -> None:
    assert len({replies.new_id() for _ in range(100)}) == 100


def test_carried_bytes_counts_file_data_whatever_the_reply() -> None:
    assert replies.carried_bytes(result(files=[entry(data=b"x" * 300)] * 2)) == 800
    assert replies.carried_bytes(result(files="nonsense")) == 0
    assert replies.carried_bytes(result(files=[1, {"data": 5}])) == 0
