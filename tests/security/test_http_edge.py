"""Hostile clients on raw sockets against a real `codeloop serve`, before any API key is asked for: heads
that never end, never come or have too many fields, and bodies that stall. Each is answered in Google's
format and its connection closed; the server's memory stays bounded and its callers' slots come back."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from servers import Server, start_server, stop_server

from live import wait_until
from serve_process import CODELOOP

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 2.0
GENERATE = "/v1beta/models/scripted:generateContent"
BODY = json.dumps(
    {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": "```python\nprint(1)\n```"}}}
)
MiB = 1 << 20


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("edge-data")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[Server]:
    # Through the environment, so that a server without these settings starts, and fails the tests.
    started = start_server(
        env={
            "CODELOOP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
            "CODELOOP_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
            "CODELOOP_DATA_DIR": str(data_dir),
        }
    )
    yield started
    stop_server(started)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after it


def connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(30)
    return sock


def read_answer(
    sock: socket.socket, within_s: float = 10.0, first_byte_s: float | None = None
) -> Answer | None:
    """The response the server sends, read until it closes the connection (within_s in all); None if
    nothing came within first_byte_s (default: within_s)."""
    data = b""
    closed = False
    start = time.monotonic()
    deadline = start + within_s
    first_deadline = start + (within_s if first_byte_s is None else min(first_byte_s, within_s))
    while (remaining := (deadline if data else first_deadline) - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], remaining)
        if not ready:
            break
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (f.partition(":") for f in fields)}
    return Answer(int(status_line.split()[1]), headers, body, closed)


def assert_refused(answer: Answer | None, code: int, status: str) -> None:
    assert answer is not None, "no answer"
    assert answer.status == code, answer
    error = json.loads(answer.body)["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert answer.headers["connection"] == "close" and answer.closed


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_forty_endless_headers_are_cut_off_and_memory_stays_bounded(server: Server) -> None:
    server.assert_healthy()
    before = rss_bytes(server.process.pid)
    sockets = [connect(server) for _ in range(40)]
    chunk = b"a" * MiB
    sent: list[int] = []
    try:
        for sock in sockets:
            mib = 0
            try:
                sock.sendall(f"POST {GENERATE} HTTP/1.1\r\nHost: x\r\nX-Filler: ".encode())
                while mib < 32:
                    sock.sendall(chunk)
                    mib += 1
            except OSError:  # the server closed the connection on us, as it should
                pass
            sent.append(mib)
        grown = rss_bytes(server.process.pid) - before  # every connection still open on this side
        answers = [read_answer(sock, within_s=2) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert max(sent) < 32, f"the server read whole 32 MiB headers: {sent}"
    assert grown < 64 * MiB, f"40 endless headers grew the server by {grown / MiB:.0f} MiB"
    for answer in answers:  # the refusal may be lost to the reset of a connection still sending
        if answer is not None:
            assert answer.status == 431 and answer.closed
    server.assert_healthy()


def test_a_head_over_the_size_limit_is_a_431(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 100_000 + b"\r\n\r\n")
        assert_refused(read_answer(sock), 431, "INVALID_ARGUMENT")


def test_a_large_body_sent_with_its_head_is_not_taken_for_head(server: Server) -> None:
    text = "x" * 150_000  # a read holds head and body together: only the head counts
    body = json.dumps({"contents": {"parts": {"text": text}}}).encode()
    head = f"POST /v1beta/models/scripted:countTokens HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    with connect(server) as sock:
        sock.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)
        answer = read_answer(sock)
    assert answer is not None and answer.status == 200, answer


def test_too_many_header_fields_are_a_431(server: Server) -> None:
    fields = b"".join(b"X-Field-%d: 1\r\n" % i for i in range(101))
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        answer = read_answer(sock)
    assert_refused(answer, 431, "INVALID_ARGUMENT")
    assert answer is not None and b"header fields" in answer.body
    within = {f"X-Field-{i}": "1" for i in range(90)}
    assert httpx.get(f"{server.url}/healthz", headers=within).status_code == 200


def test_a_head_sent_a_byte_at_a_time_is_a_408(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        started = time.monotonic()
        answer = None
        while answer is None and time.monotonic() - started < 10:
            with contextlib.suppress(OSError):  # closed already: the answer is waiting
                sock.sendall(b"a")
            # Poll for the answer's first byte, then read it to the close.
            answer = read_answer(sock, first_byte_s=0.2)
    assert_refused(answer, 408, "DEADLINE_EXCEEDED")
    assert time.monotonic() - started < HEADER_TIMEOUT_S + 3


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(server: Server) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        ready, _, _ = select.select([sock], [], [], 10)
        assert ready, "the server kept a silent connection open"
        assert sock.recv(1) == b""
    assert time.monotonic() - started < HEADER_TIMEOUT_S + 3


def in_flight(http: httpx.Client) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("codeloop_http_requests_in_flight "):
            return float(line.split()[1])
    raise AssertionError("no in-flight gauge")


def stall(server: Server, path: str, content_type: str) -> socket.socket:
    """A request that announces a MiB of body and sends a KiB of it."""
    sock = connect(server)
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {MiB}\r\n\r\n"
    sock.sendall(head.encode() + b"{" * 1024)
    return sock


def test_stalled_bodies_are_a_408_and_give_their_slots_back(server: Server, data_dir: Path) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        # Slots are per address; the answers of earlier requests may be read before their slots return.
        assert wait_until(lambda: in_flight(http) == 1)  # the scrape itself
        stalled = [stall(server, "/upload/v1beta/files", "text/plain") for _ in range(2)]
        stalled += [stall(server, GENERATE, "application/json") for _ in range(2)]
        try:
            assert wait_until(lambda: in_flight(http) == 5)
            refused = http.post(GENERATE, content=BODY)
            assert refused.status_code == 429  # the four hold every slot of this address
            started = time.monotonic()
            answers = [read_answer(sock, within_s=10) for sock in stalled]
        finally:
            for sock in stalled:
                sock.close()
        for answer in answers:
            assert_refused(answer, 408, "DEADLINE_EXCEEDED")
        assert time.monotonic() - started < BODY_TIMEOUT_S + 3
        assert http.post(GENERATE, content=BODY).status_code == 200
    assert not [p for p in (data_dir / "files").rglob("*") if p.is_file()]  # no staged upload left


def test_the_bounds_are_flags_of_serve() -> None:
    helped = subprocess.run([CODELOOP, "serve", "--help"], capture_output=True, text=True, timeout=60)
    for flag in ("--max-header-bytes", "--max-headers", "--header-timeout-s", "--body-timeout-s"):
        assert flag in helped.stdout
