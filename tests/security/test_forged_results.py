"""Code that forges what its session process tells the server, one forgery per test, on both kinds.

User code runs in the process that speaks the sandbox protocol: it finds the control socket in
/proc/self/fd, reads the running request's id from the interpreter's memory, and writes frames
of its own. Whatever it writes, the server believes only what is within the limits: the forging
block fails with a note naming the fault, /healthz stays fast while the server reads the forgery,
the Files API still lists, and the next request in the same kept session runs in a fresh
interpreter.
"""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from servers import Server

from codeloop.sandbox.protocol import MAX_VALUES
from serve_process import CODELOOP

T = TypeVar("T")
OK, FAILED = "OUTCOME_OK", "OUTCOME_FAILED"
SESSION = "x-codeloop-session"
# The slowest /healthz may answer while a forgery is read; reading a million files once took 24 s.
HEALTHZ_S = 1.0
BROKE = "The interpreter broke the sandbox protocol ("

# What every forging block starts with: the tools of a block that wants to answer for itself.
FORGE = r'''
import json, os, struct, sys, threading, time

def control_socket():
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                return int(name)
        except OSError:
            pass
    raise RuntimeError("no control socket")

def request_id():
    frame = sys._getframe()
    while frame.f_code.co_name != "serve":
        frame = frame.f_back
    return frame.f_locals["request"].get("id")

def send(raw):
    fd, view = control_socket(), memoryview(raw)
    while view:
        view = view[os.write(fd, view):]

def framed(payload):
    return struct.pack(">I", len(payload)) + payload

def result(**fields):
    """The running block's result as its session process would write it, fields changed."""
    obj = {"type": "result", "id": request_id(), "ok": True, "trailer": "forged\n", "files": [],
           "stats": {"cpu_ms": 1.0, "wall_ms": 1.0, "peak_memory_bytes": 1}}
    obj.update(fields)
    return json.dumps(obj, separators=(",", ":")).encode()

def spliced(payload, marker, raw):
    """payload with the JSON string marker replaced by raw bytes: big frames built without big objects."""
    return payload.replace(json.dumps(marker).encode(), raw)
'''


def generate(
    url: str, code: str, session: str, files: list[dict[str, Any]] | None = None, timeout: float = 60
) -> httpx.Response:
    parts = [*(files or []), {"text": f"```python\n{code}\n```"}]
    body = {"tools": {"codeExecution": {}}, "contents": {"parts": parts}}
    url = f"{url}/v1beta/models/scripted:generateContent"
    return httpx.post(url, json=body, headers={SESSION: session}, timeout=timeout)


def code_result(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text[:2000]
    parts = response.json()["candidates"][0]["content"]["parts"]
    (result,) = [p["codeExecutionResult"] for p in parts if "codeExecutionResult" in p]
    return {"outcome": result["outcome"], "output": result.get("output", "")}


def watching_healthz(url: str, action: Callable[[], T]) -> tuple[T, float]:
    """action's value, and the slowest /healthz answer while it ran."""
    slowest = 0.0
    with ThreadPoolExecutor(1) as pool, httpx.Client(timeout=120) as client:
        future = pool.submit(action)
        while True:
            started = time.perf_counter()
            assert client.get(f"{url}/healthz").json() == {"status": "ok"}
            slowest = max(slowest, time.perf_counter() - started)
            if future.done():
                return future.result(), slowest
            time.sleep(0.02)


_kept: dict[str, str] = {}


def kept_session(server: Server) -> str:
    """The server's one kept session for these tests: each forgery runs in it, then a plain block."""
    if server.url not in _kept:
        response = generate(server.url, "print('opened')", "new")
        assert code_result(response)["outcome"] == OK
        _kept[server.url] = response.headers[SESSION]
    return _kept[server.url]


def forge(server: Server, code: str) -> dict[str, str]:
    """Run a forging block in the kept session, and check what must hold whatever it forged:
    /healthz fast meanwhile, the Files API listing afterwards, the session's next block running."""
    session = kept_session(server)
    response, slowest = watching_healthz(server.url, lambda: generate(server.url, FORGE + code, session))
    result = code_result(response)
    assert slowest < HEALTHZ_S, f"/healthz took {slowest:.2f} s while a forgery was read"
    listing = httpx.get(f"{server.url}/v1beta/files", timeout=30)
    assert listing.status_code == 200, listing.text[:2000]
    assert code_result(generate(server.url, "print(6 * 7)", session)) == {"outcome": OK, "output": "42\n"}
    return result


def assert_refused(server: Server, code: str, fault: str) -> None:
    result = forge(server, code)
    assert result["outcome"] == FAILED, result
    assert BROKE in result["output"] and fault in result["output"], result["output"][:2000]
    assert "it was restarted and its state lost" in result["output"]


@pytest.fixture(params=["sandboxed", "unsandboxed"])
def server(request: pytest.FixtureRequest) -> Server:
    """Each forgery against both kinds of session: their blocks run through the same checks."""
    server: Server = request.getfixturevalue(request.param)
    return server


def file_entry(name: str, mime_type: str = "text/plain", data: str = "eA==") -> str:
    """The Python source of one forged entry of a result's files."""
    return repr({"name": name, "mime_type": mime_type, "data": data})


def test_a_million_files(server: Server) -> None:
    entry = b'{"name":"a","mime_type":"a/b","data":""}'
    million = f'b"[" + b",".join([{entry!r}] * 1_000_000) + b"]"'
    assert_refused(
        server, f"send(framed(spliced(result(files='@'), '@', {million})))", f"more than {MAX_VALUES} values"
    )


# base64 of 5 MiB, built in the sandbox: the request stays small, so only the forgery is measured.
FIVE_MIB = "b'\"' + b'eHh4' * ((5 << 20) // 3) + b'\"'"


def test_a_name_with_a_lone_surrogate_published_to_the_files_api(server: Server) -> None:
    # Past inline_file_bytes (4 MiB): stored in the Files API, whose every listing it would break.
    entry = file_entry("\ud800.txt", data="@")
    code = f"send(framed(spliced(result(files=[{entry}]), '@', {FIVE_MIB})))"
    assert_refused(server, code, "file 1's name '\\ud800.txt' is not valid UTF-8")


def test_a_fifty_megabyte_name(server: Server) -> None:
    name = "b'\"' + b'n' * 50_000_000 + b'\"'"
    code = f"send(framed(spliced(result(files=[{file_entry('@')}]), '@', {name})))"
    assert_refused(server, code, "frame announces 50000")


@pytest.mark.parametrize(
    ("name", "fault"),
    [
        ("../../outside.txt", "has a '..' component"),
        ("/etc/passwd", "is absolute"),
        ("a/./b", "'.' component"),
    ],
)
def test_names_out_of_the_working_dir(server: Server, name: str, fault: str) -> None:
    assert_refused(server, f"send(framed(result(files=[{file_entry(name)}])))", fault)


def test_a_mime_type_with_a_header_in_it(server: Server) -> None:
    entry = file_entry("a.txt", "text/plain\r\nSet-Cookie: session=stolen")
    assert_refused(server, f"send(framed(result(files=[{entry}])))", "mime type 'text/plain\\r\\nSet-Cookie")


def test_inline_data_past_the_block_budget(server: Server) -> None:
    data = f"b'\"' + b'A' * {4 * ((33 << 20) // 3)} + b'\"'"  # 33 MiB of zeros; an image is always inline
    code = f"send(framed(spliced(result(files=[{file_entry('big.png', 'image/png', '@')}]), '@', {data})))"
    assert_refused(server, code, "the files hold more than 33554432 bytes")


@pytest.mark.parametrize(
    ("stats", "fault"),
    [
        ("{'cpu_ms': float('nan'), 'wall_ms': 1, 'peak_memory_bytes': 1}", "NaN is not JSON"),
        ("{'cpu_ms': -5, 'wall_ms': 1, 'peak_memory_bytes': 1}", "cpu_ms -5 is not a time"),
        ("{'cpu_ms': 1, 'wall_ms': 1e308, 'peak_memory_bytes': 1}", "wall_ms 1e+308 is not a time"),
        ("{'cpu_ms': 1, 'wall_ms': 1, 'peak_memory_bytes': 10**30}", "peak_memory_bytes 10000"),
    ],
)
def test_stats_out_of_range(server: Server, stats: str, fault: str) -> None:
    assert_refused(server, f"send(framed(result(stats={stats})))", fault)


def test_a_frame_announcing_four_gigabytes(server: Server) -> None:
    assert_refused(server, "send(b'\\xff\\xff\\xff\\xff')", "frame announces 4294967295 bytes")


@pytest.mark.parametrize(
    ("raw", "fault"),
    [
        ("framed(b'\\x8f garbage \\xff')", "frame is not UTF-8 JSON"),
        ("framed(b'[' * 100_000 + b']' * 100_000)", "frame nests too deep"),
        ('framed(b\'{"type": "evil"}\')', "frame of unknown type 'evil'"),
    ],
)
def test_garbage(server: Server, raw: str, fault: str) -> None:
    assert_refused(server, f"send({raw})", fault)


def test_an_unsolicited_frame_after_a_legitimate_result(server: Server) -> None:
    # Written by a thread once the block has answered, it waits for the session's next request.
    session = kept_session(server)
    code = (
        "late = framed(result(trailer='forged by the block before\\n'))\n"
        "threading.Thread(target=lambda: (time.sleep(0.5), send(late)), daemon=True).start()\n"
        "print('first')"
    )
    assert code_result(generate(server.url, FORGE + code, session)) == {"outcome": OK, "output": "first\n"}
    time.sleep(1.5)
    second, slowest = watching_healthz(server.url, lambda: generate(server.url, "print('second')", session))
    result = code_result(second)
    assert result["outcome"] == FAILED, result
    assert BROKE + "the result message answers another request" in result["output"]
    assert slowest < HEALTHZ_S
    assert code_result(generate(server.url, "print(6 * 7)", session)) == {"outcome": OK, "output": "42\n"}


def csv(name: str) -> dict[str, Any]:
    data = base64.b64encode(b"a,b\n1,2\n").decode()
    return {"inlineData": {"mimeType": "text/csv", "data": data, "displayName": name}}


def test_a_fifo_named_like_the_next_input_file(server: Server) -> None:
    session = kept_session(server)
    planted = generate(server.url, "import os\nos.mkfifo('fifo.csv')\nprint('planted')", session)
    assert code_result(planted) == {"outcome": OK, "output": "planted\n"}
    # Staging opened it for writing, which waits for a reader: forever, and the session with it.
    code = "import os, stat\nprint(stat.S_ISREG(os.lstat('fifo.csv').st_mode), open('fifo.csv').read())"
    staged = generate(server.url, code, session, [csv("fifo.csv")], timeout=30)
    assert code_result(staged) == {"outcome": OK, "output": "True a,b\n1,2\n\n"}


def test_a_symlink_named_like_the_next_input_file(
    sandboxed: Server, unsandboxed: Server, tmp_path: Path
) -> None:
    # Unsandboxed, the link may point at a file of the server's user; sandboxed, at one of the session's.
    for server, target in ((unsandboxed, str(tmp_path / "server-file")), (sandboxed, "/tmp/target")):
        session = kept_session(server)
        plant = f"import os\nopen({target!r}, 'w').write('untouched')\nos.symlink({target!r}, 'link.csv')"
        assert code_result(generate(server.url, plant, session))["outcome"] == OK
        code = (
            f"import os\nprint(os.path.islink('link.csv'), open({target!r}).read(), open('link.csv').read())"
        )
        staged = generate(server.url, code, session, [csv("link.csv")], timeout=30)
        assert code_result(staged) == {"outcome": OK, "output": "False untouched a,b\n1,2\n\n"}


@pytest.mark.parametrize("insecure", [False, True], ids=["fork", "process"])
def test_codeloop_exec_refuses_a_forged_result_and_writes_nothing(tmp_path: Path, insecure: bool) -> None:
    """The CLI runs blocks through the same checks: a forged name never reaches its files dir or beyond."""
    files_dir = tmp_path / "out" / "deeper"
    files_dir.mkdir(parents=True)
    entries = ", ".join(file_entry(name) for name in ("../../outside.txt", str(tmp_path / "absolute.txt")))
    code = f"{FORGE}\nsend(framed(result(files=[{entries}])))\ntime.sleep(5)\n"
    flags = ["--insecure-no-sandbox"] if insecure else []
    done = subprocess.run(
        [CODELOOP, "exec", "--files-dir", str(files_dir), *flags],
        input=code,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert BROKE in done.stdout and "has a '..' component" in done.stdout, done.stdout
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["out", "out/deeper"]
