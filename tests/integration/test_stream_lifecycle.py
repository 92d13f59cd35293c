"""A request's interpreter lives exactly as long as the request, also when the client walks away."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx

from live import wait_until

SLOW = (
    b'{"tools": {"codeExecution": {}}, "contents": {"parts": {"text": '
    + json.dumps("```python\nimport os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)\n```").encode()
    + b"}}}"
)


def sessions(live_server, before: frozenset = frozenset()) -> set:
    """The server's live sessions, less those in `before`: the shared server may hold others (a
    stored interaction keeps its interpreter), which are not the test's business."""
    return set(live_server.app.state.runtime.sandbox._sessions) - before


def keepers_beyond_spares(live_server) -> list[str]:
    """Keepers the server's zygotes forked and that still run, beyond those of spare interpreters."""
    sandbox = live_server.app.state.runtime.sandbox
    found = []
    for zygote in sandbox.zygote_pids:
        for task in Path(f"/proc/{zygote}/task").iterdir():
            found += (task / "children").read_text().split()
    return found[sandbox.config.spare_sessions :]


def test_disconnecting_mid_stream_kills_the_interpreter(live_server) -> None:
    before, keepers = frozenset(sessions(live_server)), len(keepers_beyond_spares(live_server))
    with (
        httpx.Client(base_url=live_server.url, timeout=30) as http,
        http.stream("POST", "/v1beta/models/scripted:streamGenerateContent?alt=sse", content=SLOW) as stream,
    ):
        lines = stream.iter_lines()  # kept referenced: a dropped iterator closes the response
        assert any("executableCode" in line for line in lines)
        assert wait_until(lambda: any(s.pid for s in sessions(live_server, before))), (
            "the block never started"
        )
        (session,) = sessions(live_server, before)
        pid = session.pid
        os.kill(pid, 0)  # the block is running
    assert wait_until(lambda: not sessions(live_server, before)), "the session outlived its request"
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}")), "the interpreter outlived its request"
    assert wait_until(lambda: len(keepers_beyond_spares(live_server)) <= keepers), (
        "a keeper outlived its request"
    )


def test_every_request_leaves_no_session_behind(live_server) -> None:
    before = frozenset(sessions(live_server))
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        body = (
            b'{"tools": {"codeExecution": {}}, "contents": {"parts": {"text": "```python\\nprint(1)\\n```"}}}'
        )
        assert http.post("/v1beta/models/scripted:generateContent", content=body).status_code == 200
        assert http.post("/v1beta/models/scripted:streamGenerateContent", content=body).status_code == 200
    assert wait_until(lambda: not sessions(live_server, before))


def test_disconnecting_while_the_interpreter_starts_leaves_nothing_behind(live_server) -> None:
    sandbox = live_server.app.state.runtime.sandbox
    spawn = sandbox._spawn

    async def slow_spawn(session):
        await asyncio.sleep(0.5)
        return await spawn(session)

    before, keepers = frozenset(sessions(live_server)), len(keepers_beyond_spares(live_server))
    sandbox._spawn = slow_spawn
    try:
        with httpx.Client(base_url=live_server.url, timeout=30) as http:
            url = "/v1beta/models/scripted:streamGenerateContent?alt=sse"
            with http.stream("POST", url, content=SLOW) as stream:
                lines = stream.iter_lines()
                assert any("executableCode" in line for line in lines)  # the loop now waits for the session
                starting = [s.pid for s in sessions(live_server, before)]
                assert starting == [None], "the interpreter should be starting"
        assert wait_until(lambda: not sessions(live_server, before)), "the session outlived its request"
        assert wait_until(lambda: len(keepers_beyond_spares(live_server)) <= keepers), (
            "a session process leaked"
        )
    finally:
        del sandbox._spawn
