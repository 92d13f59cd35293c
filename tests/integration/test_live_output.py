"""Live output on streamGenerateContent: a running block's output reaches the client as it is printed,
in chunks of their own, when the client asks; one that does not ask gets today's chunks."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import types

from live import LiveServer, wait_until

GEMINI = "/v1beta/models/scripted:streamGenerateContent"
VERTEX = "/v1/projects/p/locations/us-central1/publishers/google/models/scripted:streamGenerateContent"
OPT_IN = {"X-Codeloop-Live-Output": "true"}
TICKING = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(1)\n"

Chunk = dict[str, Any]


def body(*blocks: str) -> dict[str, Any]:
    text = "\n".join(f"```python\n{code}```" for code in blocks)
    return {"tools": [{"codeExecution": {}}], "contents": [{"role": "user", "parts": [{"text": text}]}]}


def stream(
    live_server: LiveServer,
    path: str,
    request: dict[str, Any],
    sse: bool,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> tuple[list[tuple[float, Chunk]], bytes]:
    """Each chunk with the time it arrived, and the raw body; the framing is checked strictly."""
    query = {**({"alt": "sse"} if sse else {}), **(params or {})}
    arrived: list[tuple[float, Chunk]] = []
    raw = b""
    with (
        httpx.Client(base_url=live_server.url, timeout=60) as http,
        http.stream("POST", path, json=request, headers=headers, params=query) as response,
    ):
        assert response.status_code == 200
        reader = SseReader() if sse else ArrayReader()
        for data in response.iter_bytes():
            raw += data
            now = time.monotonic()
            arrived += [(now, chunk) for chunk in reader.feed(data)]
        reader.end()
    return arrived, raw


class SseReader:
    """`data: {...}` lines each followed by a blank line, nothing else."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> list[Chunk]:
        self.buffer += data
        chunks = []
        while b"\r\n\r\n" in self.buffer:
            event, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            line = event.decode("utf-8")
            assert line.startswith("data: ") and "\n" not in line and "\r" not in line, line
            chunks.append(json.loads(line.removeprefix("data: ")))
        return chunks

    def end(self) -> None:
        assert self.buffer == b""


class ArrayReader:
    """`[{...}`, then `,\\r\\n{...}` per chunk, then `]`: read as it grows."""

    def __init__(self) -> None:
        self.text = ""
        self.started = self.ended = False
        self.decoder = json.JSONDecoder()

    def feed(self, data: bytes) -> list[Chunk]:
        self.text += data.decode("utf-8")
        chunks = []
        while self.text and not self.ended:
            if not self.started:
                assert self.text.startswith("[")
                self.text, self.started = self.text[1:], True
                continue
            if self.text.startswith("]"):
                self.text, self.ended = self.text[1:], True
                break
            if self.text.startswith(",\r\n"):
                self.text = self.text[3:]
            try:
                chunk, end = self.decoder.raw_decode(self.text)
            except json.JSONDecodeError:
                break  # the rest of this chunk is yet to come
            chunks.append(chunk)
            self.text = self.text[end:]
        return chunks

    def end(self) -> None:
        assert self.ended and self.text == ""


def parts(chunk: Chunk) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = chunk["candidates"][0]["content"]["parts"]
    return parts


def is_piece(chunk: Chunk) -> bool:
    found = parts(chunk)
    return (
        len(found) == 1
        and "codeExecutionResult" in found[0]
        and "outcome" not in found[0]["codeExecutionResult"]
    )


def pieces_and_result(
    arrived: list[tuple[float, Chunk]],
) -> tuple[list[tuple[float, str]], float, dict[str, Any], str]:
    """The live pieces (time, text), when the whole result came, the result, and the block's id."""
    (code_id,) = [p["executableCode"]["id"] for _, c in arrived for p in parts(c) if "executableCode" in p]
    pieces = []
    for at, chunk in arrived:
        if is_piece(chunk):
            result = parts(chunk)[0]["codeExecutionResult"]
            assert result["id"] == code_id
            pieces.append((at, result["output"]))
    ((final_at, final),) = [
        (at, p["codeExecutionResult"])
        for at, c in arrived
        for p in parts(c)
        if "outcome" in p.get("codeExecutionResult", {})
    ]
    return pieces, final_at, final, code_id


def shape(chunk: Chunk) -> list[str]:
    """A chunk by its parts' kinds, a result marked by whether it has an outcome."""
    kinds = []
    for part in parts(chunk):
        kind = next(iter(part))
        if kind == "codeExecutionResult":
            kind += "+outcome" if "outcome" in part[kind] else "-outcome"
        kinds.append(kind)
    return kinds


@pytest.mark.parametrize("sse", [True, False], ids=["sse", "json-array"])
@pytest.mark.parametrize("path", [GEMINI, VERTEX], ids=["gemini", "vertex"])
def test_each_line_arrives_as_it_is_printed(live_server: LiveServer, path: str, sse: bool) -> None:
    arrived, _ = stream(live_server, path, body(TICKING), sse, headers=OPT_IN)
    pieces, final_at, final, code_id = pieces_and_result(arrived)
    assert [text for _, text in pieces] == ["0\n", "1\n", "2\n"]
    assert final == {"id": code_id, "outcome": "OUTCOME_OK", "output": "0\n1\n2\n"}
    first_at, second_at = pieces[0][0], pieces[1][0]
    assert final_at - first_at > 1.5, "the first line came only with the result"
    assert final_at - second_at > 0.5, "the second line came only with the result"
    reference = arrived[0][1]
    for _, chunk in arrived:
        assert chunk["candidates"][0]["content"]["role"] == "model"
        assert chunk["candidates"][0]["index"] == 0
        assert (chunk["modelVersion"], chunk["responseId"]) == (
            reference["modelVersion"],
            reference["responseId"],
        )
    kinds = [shape(chunk) for _, chunk in arrived]
    code_at = kinds.index(["executableCode"])
    assert kinds[code_at + 1 : code_at + 5] == [["codeExecutionResult-outcome"]] * 3 + [
        ["codeExecutionResult+outcome"]
    ]


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        (None, None),
        ({"X-Codeloop-Live-Output": "false"}, None),
        ({"X-Codeloop-Live-Output": "1"}, None),
        (None, {"liveOutput": "yes"}),
    ],
    ids=["none", "header-false", "header-1", "param-yes"],
)
def test_without_asking_the_chunks_are_todays(live_server: LiveServer, headers: Any, params: Any) -> None:
    code = "import sys, time\nprint('a', flush=True)\ntime.sleep(0.3)\nprint('b')\n"
    for sse in (True, False):
        arrived, _ = stream(live_server, GEMINI, body(code), sse, headers=headers, params=params)
        kinds = [shape(chunk) for _, chunk in arrived]
        code_at = kinds.index(["executableCode"])
        assert kinds[:code_at] == [["text"]] * code_at
        assert kinds[code_at + 1] == ["codeExecutionResult+outcome"]
        assert all(kind == ["text"] for kind in kinds[code_at + 2 :])
        assert "codeExecutionResult-outcome" not in str(kinds)
        assert arrived[-1][1]["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize("sse", [True, False], ids=["sse", "json-array"])
def test_the_query_parameter_opts_in_too(live_server: LiveServer, sse: bool) -> None:
    code = "import time\nprint('a', flush=True)\ntime.sleep(0.5)\nprint('b')\n"
    arrived, _ = stream(live_server, VERTEX, body(code), sse, params={"liveOutput": "true"})
    pieces, _, final, _ = pieces_and_result(arrived)
    assert [text for _, text in pieces] == ["a\n", "b\n"]
    assert final["output"] == "a\nb\n"


def test_stderr_and_stdout_come_in_the_order_printed(live_server: LiveServer) -> None:
    code = "import sys\nprint('out 1', flush=True)\nsys.stderr.write('err 2\\n')\nprint('out 3')\n"
    arrived, _ = stream(live_server, GEMINI, body(code), sse=True, headers=OPT_IN)
    pieces, _, final, _ = pieces_and_result(arrived)
    assert "".join(text for _, text in pieces) == "out 1\nerr 2\nout 3\n" == final["output"]


def test_a_failing_block_streams_its_output_and_its_result_has_the_traceback(live_server: LiveServer) -> None:
    code = "print('before', flush=True)\n1 / 0\n"
    arrived, _ = stream(live_server, GEMINI, body(code), sse=True, headers=OPT_IN)
    pieces, _, final, _ = pieces_and_result(arrived)
    assert "".join(text for _, text in pieces) == "before\n"
    assert final["outcome"] == "OUTCOME_FAILED" and "ZeroDivisionError" in final["output"]


@pytest.mark.parametrize("sse", [True, False], ids=["sse", "json-array"])
def test_output_cannot_break_the_framing(live_server: LiveServer, sse: bool) -> None:
    hostile = '\\n\\ndata: {"candidates": []}\\n\\n]\\r\\n,{"x": 1}\\r\\n\\r\\n\\u2028\\x00"'
    code = f"import sys\nsys.stdout.write('{hostile}')\nsys.stdout.flush()\nprint(']')\n"
    arrived, raw = stream(live_server, GEMINI, body(code), sse, headers=OPT_IN)
    pieces, _, final, _ = pieces_and_result(arrived)
    printed = '\n\ndata: {"candidates": []}\n\n]\r\n,{"x": 1}\r\n\r\n\u2028\x00"]\n'
    assert "".join(text for _, text in pieces) == printed == final["output"]
    if not sse:
        assert [chunk for _, chunk in arrived] == json.loads(raw)


def test_split_characters_and_bytes_that_are_not_utf8(live_server: LiveServer) -> None:
    code = (
        "import os, time\n"
        "snowman = '\\u2603'.encode()\n"
        "os.write(1, b'a' + snowman[:1])\n"
        "time.sleep(0.3)\n"
        "os.write(1, snowman[1:] + b' \\xff\\xfe\\n')\n"
    )
    arrived, _ = stream(live_server, GEMINI, body(code), sse=True, headers=OPT_IN)
    pieces, _, final, _ = pieces_and_result(arrived)
    texts = [text for _, text in pieces]
    assert texts == ["a", "\u2603 \ufffd\ufffd\n"], "the character waits for its last byte, whole"
    assert "".join(texts) == final["output"]


def test_output_without_newlines_still_arrives_on_time(live_server: LiveServer) -> None:
    code = "import sys, time\nfor i in range(3):\n    sys.stdout.write(str(i))\n    time.sleep(0.5)\n"
    arrived, _ = stream(live_server, GEMINI, body(code), sse=True, headers=OPT_IN)
    pieces, final_at, final, _ = pieces_and_result(arrived)
    assert [text for _, text in pieces] == ["0", "1", "2"]
    assert final_at - pieces[0][0] > 0.7
    assert final["output"] == "012"


def test_a_flood_is_bounded_and_the_server_stays_responsive(live_server: LiveServer) -> None:
    limit = live_server.settings.output_limit
    code = "import os\nline = b'x' * 99 + b'\\n'\nfor _ in range(100_000):\n    os.write(1, line)\n"  # 10 MB
    latencies: list[float] = []
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=live_server.url, timeout=10) as http:
            while not done.is_set():
                started = time.monotonic()
                assert http.get("/healthz").status_code == 200
                latencies.append(time.monotonic() - started)
                time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        arrived, _ = stream(live_server, GEMINI, body(code), sse=True, headers=OPT_IN)
    finally:
        done.set()
        prober.join()
    pieces, _, final, _ = pieces_and_result(arrived)
    live = "".join(text for _, text in pieces)
    assert len(live.encode()) == limit, "pieces stop at the output limit, as the result does"
    assert final["output"].startswith(live)
    assert f"[output truncated: {10_000_000 - limit} bytes not shown]" in final["output"]
    assert len(pieces) <= 200, f"{len(pieces)} pieces for 10 MB"
    assert latencies and max(latencies) < 2.0, f"/healthz took up to {max(latencies):.2f} s"


def test_a_kept_session_streams_live_output_in_later_requests(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        first = http.post(
            "/v1beta/models/scripted:generateContent",
            json=body("counter = 41\n"),
            headers={"x-codeloop-session": "new"},
        )
        assert first.status_code == 200
        session = first.headers["x-codeloop-session"]
    code = "import time\ncounter += 1\nprint(counter, flush=True)\ntime.sleep(1)\nprint('done')\n"
    arrived, _ = stream(
        live_server, GEMINI, body(code), sse=True, headers={**OPT_IN, "x-codeloop-session": session}
    )
    pieces, final_at, final, _ = pieces_and_result(arrived)
    assert [text for _, text in pieces] == ["42\n", "done\n"]
    assert final_at - pieces[0][0] > 0.5
    assert final["output"] == "42\ndone\n"


def sdk_chunks(client: genai.Client, code: str) -> Iterator[types.GenerateContentResponse]:
    config = types.GenerateContentConfig(
        tools=[types.Tool(code_execution=types.ToolCodeExecution())],
        http_options=types.HttpOptions(headers=OPT_IN),
    )
    return client.models.generate_content_stream(
        model="scripted", contents=f"```python\n{code}```", config=config
    )


def test_the_python_sdk_parses_every_chunk(gemini_client: genai.Client) -> None:
    code = "import time\nprint('a', flush=True)\ntime.sleep(0.5)\nprint('b')\n"
    chunks = list(sdk_chunks(gemini_client, code))
    results = [
        part.code_execution_result
        for chunk in chunks
        for part in chunk.candidates[0].content.parts
        if part.code_execution_result
    ]
    assert [(r.outcome, r.output) for r in results] == [
        (None, "a\n"),
        (None, "b\n"),
        (types.Outcome.OUTCOME_OK, "a\nb\n"),
    ]
    (executable,) = [
        part.executable_code
        for chunk in chunks
        for part in chunk.candidates[0].content.parts
        if part.executable_code
    ]
    assert executable.id and {r.id for r in results} == {executable.id}
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


def test_a_block_past_its_deadline_streams_until_then(live_server: LiveServer) -> None:
    code = "import time\nprint('started', flush=True)\ntime.sleep(60)\n"
    arrived, _ = stream(live_server, GEMINI, body(code), sse=True, headers=OPT_IN)
    pieces, final_at, final, _ = pieces_and_result(arrived)
    assert [text for _, text in pieces] == ["started\n"]
    assert final_at - pieces[0][0] > 3, "the piece came only with the result"
    assert final["outcome"] == "OUTCOME_DEADLINE_EXCEEDED"
    assert final["output"].startswith("started\nExecution timed out after")


def test_leaving_mid_block_ends_the_block_and_its_interpreter(live_server: LiveServer) -> None:
    sandbox = live_server.app.state.runtime.sandbox
    before = set(sandbox._sessions)
    code = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)\n"
    with (
        httpx.Client(base_url=live_server.url, timeout=30) as http,
        http.stream("POST", f"{GEMINI}?alt=sse", json=body(code), headers=OPT_IN) as response,
    ):
        reader = SseReader()
        lines = response.iter_bytes()  # kept referenced: a dropped iterator closes the response
        piece = None
        while piece is None:
            piece = next((chunk for chunk in reader.feed(next(lines)) if is_piece(chunk)), None)
        (session,) = set(sandbox._sessions) - before
        pid = session.pid
        assert pid is not None
    assert wait_until(lambda: not set(sandbox._sessions) - before), "the session outlived its request"
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}")), "the interpreter outlived its request"
