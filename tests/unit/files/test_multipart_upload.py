"""The streaming multipart reader: metadata part held, media part passed on as it arrives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from codeloop.errors import InvalidRequest
from codeloop.files.multipart import Multipart, boundary_of, read_multipart

BOUNDARY = b"b0undary"


def related(*parts: tuple[str, bytes]) -> bytes:
    body = b"preamble is ignored\r\n"
    for content_type, data in parts:
        body += (
            b"--" + BOUNDARY + b"\r\nContent-Type: " + content_type.encode() + b"\r\n\r\n" + data + b"\r\n"
        )
    return body + b"--" + BOUNDARY + b"--\r\nepilogue"


def read(body: bytes, chunk: int = 7, metadata_limit: int = 64) -> tuple[Multipart, bytes]:
    media = bytearray()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), chunk):
            yield body[start : start + chunk]

    async def write(data: bytes) -> None:
        media.extend(data)

    parts = asyncio.run(read_multipart(chunks(), BOUNDARY, write, metadata_limit))
    return parts, bytes(media)


@pytest.mark.parametrize("chunk", [1, 7, 10_000])
def test_metadata_then_media_in_chunks_of_any_size(chunk: int) -> None:
    media = b"\x00\r\n--b0undar\r\n" * 20  # near-boundaries in the data stay data
    parts, got = read(related(("application/json", b'{"file": {}}'), ("image/png", media)), chunk)
    assert parts == Multipart(b'{"file": {}}', "image/png")
    assert got == media


def test_one_part_is_the_media_alone() -> None:
    assert read(related(("text/plain", b"just text"))) == (Multipart(None, "text/plain"), b"just text")
    big = b"y" * 500  # past the metadata limit, streamed
    assert read(related(("text/plain", big))) == (Multipart(None, "text/plain"), big)


def test_form_data_as_curl_sends_it() -> None:
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="metadata"\r\nContent-Type: application/json\r\n\r\n'
        b'{"file": {"display_name": "x"}}\r\n'
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n'
        b"file body\r\n--b0undary--\r\n"
    )
    assert read(body) == (Multipart(b'{"file": {"display_name": "x"}}', "text/plain"), b"file body")


@pytest.mark.parametrize(
    "body",
    [
        related(),
        related(("a/b", b"1"), ("a/b", b"2"), ("a/b", b"3")),
        related(("a/b", b"m" * 100), ("a/b", b"2")),  # a first part too large for metadata, then another
        related(("a/b", b"data"))[:-20],  # no closing boundary
        b"no boundary at all",
        b"--b0undary\r\nnot a header\r\n\r\ndata\r\n--b0undary--",
        b"--b0undaryjunk\r\n\r\ndata\r\n--b0undary--",
    ],
)
def test_malformed_bodies_are_invalid(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        read(body)


def test_boundaries_come_from_the_content_type() -> None:
    assert boundary_of('multipart/related; boundary="a b"') == b"a b"
    assert boundary_of("multipart/form-data; boundary=xyz") == b"xyz"
    for bad in ("multipart/related", "multipart/related; boundary=" + "x" * 71):
        with pytest.raises(InvalidRequest):
            boundary_of(bad)
