"""The sandbox wire: length-prefixed JSON frames, sync over fds and async over streams."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import threading
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
    protocol.write_message(w, {"type": "second"})
    assert protocol.read_message(r) == message
    assert protocol.read_message(r) == {"type": "second"}


def test_lone_surrogates_survive(pipe: tuple[int, int]) -> None:
    r, w = pipe
    protocol.write_message(w, {"code": "x = '\udcff'"})
    assert protocol.read_message(r) == {"code": "x = '\udcff'"}


def test_frame_larger_than_a_pipe_buffer(pipe: tuple[int, int]) -> None:
    r, w = pipe
    message = {"data": "x" * (3 << 20)}
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
            big = {"data": "y" * (2 << 20)}
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
