"""A request's interpreter lives exactly as long as the request, also when the client walks away."""

from __future__ import annotations

import json
import os
import time

import httpx

SLOW = (
    b'{"tools": {"codeExecution": {}}, "contents": {"parts": {"text": '
    + json.dumps("```python\nimport os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)\n```").encode()
    + b"}}}"
)


def sessions(live_server) -> set:
    return set(live_server.app.state.runtime.sandbox._sessions)


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_disconnecting_mid_stream_kills_the_interpreter(live_server) -> None:
    with (
        httpx.Client(base_url=live_server.url, timeout=30) as http,
        http.stream("POST", "/v1beta/models/scripted:streamGenerateContent?alt=sse", content=SLOW) as stream,
    ):
        lines = stream.iter_lines()  # kept referenced: a dropped iterator closes the response
        assert any("executableCode" in line for line in lines)
        assert wait_until(lambda: any(s.pid for s in sessions(live_server))), "the block never started"
        (session,) = sessions(live_server)
        pid, workdir = session.pid, session.workdir
        os.kill(pid, 0)  # the block is running
    assert wait_until(lambda: not sessions(live_server)), "the session outlived its request"
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}")), "the interpreter outlived its request"
    assert not workdir.exists()


def test_every_request_leaves_no_session_behind(live_server) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        body = (
            b'{"tools": {"codeExecution": {}}, "contents": {"parts": {"text": "```python\\nprint(1)\\n```"}}}'
        )
        assert http.post("/v1beta/models/scripted:generateContent", content=body).status_code == 200
        assert http.post("/v1beta/models/scripted:streamGenerateContent", content=body).status_code == 200
    assert wait_until(lambda: not sessions(live_server))


def test_disconnecting_while_the_interpreter_starts_leaves_nothing_behind(live_server, tmp_path) -> None:
    sandbox = live_server.app.state.runtime.sandbox
    slow_python = tmp_path / "slow-python"
    slow_python.write_text(f'#!/bin/sh\nsleep 0.5\nexec {sandbox.python} "$@"\n')
    slow_python.chmod(0o755)
    python, sandbox.python = sandbox.python, str(slow_python)
    try:
        with httpx.Client(base_url=live_server.url, timeout=30) as http:
            url = "/v1beta/models/scripted:streamGenerateContent?alt=sse"
            with http.stream("POST", url, content=SLOW) as stream:
                lines = stream.iter_lines()
                assert any("executableCode" in line for line in lines)  # the loop now waits for the session
                assert [s.pid for s in sessions(live_server)] == [None], "the interpreter should be starting"
        assert wait_until(lambda: not sessions(live_server)), "the session outlived its request"
        assert wait_until(lambda: not list(sandbox._home.glob("session-*"))), "a working dir leaked"
    finally:
        sandbox.python = python
