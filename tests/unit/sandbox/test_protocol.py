"""The sandbox wire: length-prefixed JSON frames, sync over fds and async over streams."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from codeloop.sandbox import protocol
from codeloop.sandbox.protocol import ProtocolError


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        with contextlib.suppress(OSError):
            os.close(fd)


def test_round_trip(pipe: tuple[int, int]) -> None:
    r, w = pipe
    message = {"type": "run", "code": "print('héllo ✓')\n", "n": 3, "nested": {"ok": True, "none": None}}
    protocol.write_message(w, message)
    protocol.write_message(w, {"type": "ready"})
    assert protocol.read_message(r) == message
    assert protocol.read_message(r) == {"type": "ready"}


def test_lone_surrogates_survive(pipe: tuple[int, int]) -> None:
    r, w = pipe
    protocol.write_message(w, {"type": "run", "code": "x = '\udcff'"})
    assert protocol.read_message(r) == {"type": "run", "code": "x = '\udcff'"}


def test_frame_larger_than_a_pipe_buffer(pipe: tuple[int, int]) -> None:
    r, w = pipe
    message = {"type": "put", "data": "x" * (3 << 20)}
    writer = threading.Thread(target=protocol.write_message, args=(w, message))
    writer.start()
    try:
        assert protocol.read_message(r) == message
    finally:
        writer.join()


def test_clean_eof_is_none(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.close(w)
    assert protocol.read_message(r) is None


def test_eof_inside_header(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.write(w, b"\x00\x00")
    os.close(w)
    with pytest.raises(ProtocolError, match="header"):
        protocol.read_message(r)


def test_eof_inside_frame(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.write(w, struct.pack(">I", 100) + b'{"a":')
    os.close(w)
    with pytest.raises(ProtocolError, match="inside a frame"):
        protocol.read_message(r)


def test_absurd_length_is_refused_before_reading(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.write(w, struct.pack(">I", 0xFFFFFFFF))
    with pytest.raises(ProtocolError, match="announces"):
        protocol.read_message(r)


@pytest.mark.parametrize("payload", [b"not json", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_payload_must_be_a_json_object(pipe: tuple[int, int], payload: bytes) -> None:
    r, w = pipe
    os.write(w, struct.pack(">I", len(payload)) + payload)
    with pytest.raises(ProtocolError):
        protocol.read_message(r)


def test_encode_refuses_oversized_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "MAX_MESSAGE_BYTES", 64)
    with pytest.raises(ProtocolError, match="exceeds"):
        protocol.encode({"data": "x" * 100})


def test_frame_layout() -> None:
    frame = protocol.encode({"a": 1})
    assert frame == struct.pack(">I", 7) + b'{"a":1}'


def _echo_once(fd: int) -> None:
    message = protocol.read_message(fd)
    assert message is not None
    protocol.write_message(fd, message)


def test_async_round_trip_against_sync_peer() -> None:
    async def scenario() -> None:
        ours, theirs = socket.socketpair()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        try:
            # The sync side runs in a thread, as the child would in its own process.
            echo = asyncio.create_task(asyncio.to_thread(_echo_once, theirs.fileno()))
            big = {"type": "put", "data": "y" * (2 << 20)}
            await protocol.write_message_async(writer, big)
            assert await protocol.read_message_async(reader) == big
            await echo
            theirs.close()
            assert await protocol.read_message_async(reader) is None
        finally:
            theirs.close()
            writer.close()
            await writer.wait_closed()

    asyncio.run(scenario())


def test_async_truncated_and_absurd_frames() -> None:
    async def read(data: bytes) -> object:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await protocol.read_message_async(reader)

    assert asyncio.run(read(b"")) is None
    with pytest.raises(ProtocolError, match="header"):
        asyncio.run(read(b"\x00"))
    with pytest.raises(ProtocolError, match="inside a frame"):
        asyncio.run(read(struct.pack(">I", 10) + b"{}"))
    with pytest.raises(ProtocolError, match="announces"):
        asyncio.run(read(struct.pack(">I", protocol.MAX_MESSAGE_BYTES + 1)))


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (b'{"type": "evil"}', "unknown type 'evil'"),
        (b'{"kind": "result"}', "unknown type None"),
        (b'{"type": "result", "x": NaN}', "NaN is not JSON"),
        (b'{"type": "result", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nests too deep"),
        (b'{"type": "result", "x": "\xed\xa0\x80"}', "not UTF-8"),
    ],
)
def test_frames_that_are_not_our_messages_are_refused_and_named(payload: bytes, named: str) -> None:
    with pytest.raises(protocol.InvalidMessage, match=named):
        protocol.decode(payload)


@pytest.mark.parametrize("value", [b"true", b"0", b'""', b"[]", b"{}", b"null"])
def test_a_frame_of_many_values_is_refused_while_it_is_parsed(value: bytes) -> None:
    many = b'{"type": "result", "files": [' + b",".join([value] * 1_000_000) + b"]}"
    started = time.perf_counter()
    with pytest.raises(protocol.InvalidMessage, match=f"more than {protocol.MAX_VALUES} values"):
        protocol.decode(many)
    assert time.perf_counter() - started < 1


def test_a_big_frame_at_the_value_limit_is_accepted() -> None:
    items = protocol.MAX_VALUES - 4  # the object, its type, the padding and the list are values too
    padding = "x" * (64 << 10)  # past the size parsed by the C scanner, which counts nothing
    frame = b'{"type": "run", "pad": "%s", "x": [%s]}' % (padding.encode(), b",".join([b"1"] * items))
    assert len(protocol.decode(frame)["x"]) == items
    with pytest.raises(protocol.InvalidMessage, match="values"):
        protocol.decode(frame.replace(b"[", b"[1,"))


def test_a_small_frame_is_bounded_by_its_size() -> None:
    # Frames up to _SMALL_FRAME_BYTES go to the C parser whole: the most values one can hold (one
    # per two bytes) parse in milliseconds, so only bigger frames need the counting decoder.
    for value in (b"[]", b"0", b"{}"):
        payload = b'{"type": "run", "x": [%s]}' % b",".join([value] * 20_000)
        assert len(payload) <= protocol._SMALL_FRAME_BYTES
        assert len(protocol.decode(payload)["x"]) == 20_000
    too_many = b'{"type": "run", "x": [%s]}' % b",".join([b"0"] * (protocol._SMALL_FRAME_BYTES // 2))
    with pytest.raises(protocol.InvalidMessage, match="more than"):
        protocol.decode(too_many)


def test_the_largest_legitimate_result_fits_in_a_frame() -> None:
    entries = protocol.MAX_FILES + protocol.MAX_FIGURES
    share = protocol.FILE_BUDGET // entries
    size = share - (share - 1) % 3  # two bytes of padding each, the most base64 adds
    name = "/".join(["é" * 127] * 4)[: protocol.MAX_PATH_BYTES // 2]
    mime = "a" * 127 + "/" + "b" * 127
    files = [{"name": name, "mime_type": mime, "data": base64.b64encode(b"x" * size).decode()}] * entries
    trailer = "\x01" * ((protocol.MAX_TRAILER_BYTES - 64) // 6)
    stats = {"cpu_ms": 1e12, "wall_ms": 1e12, "peak_memory_bytes": 1 << 50}
    result = {"type": "result", "id": "f" * 16, "ok": False, "trailer": trailer}
    result |= {"files": files, "stats": stats}
    assert protocol.name_problem(name) is None and protocol.mime_problem(mime) is None
    frame = protocol.encode(result)
    assert len(frame) > 0.95 * protocol.MAX_MESSAGE_BYTES
    assert protocol.decode(frame[4:]) == result
