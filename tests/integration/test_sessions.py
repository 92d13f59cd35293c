"""Sessions kept across requests: a chat keeps its interpreter's variables and files between turns."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from google import genai
from google.genai import types

from codeloop.settings import Settings
from live import LiveServer, serving

CODE_TOOL = types.GenerateContentConfig(tools=[types.Tool(code_execution=types.ToolCodeExecution())])
GENERATE = "/v1beta/models/scripted:generateContent"


def block(code: str) -> dict:
    return {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": f"```python\n{code}\n```"}}}


def result(response: httpx.Response) -> dict:
    parts = response.json()["candidates"][0]["content"]["parts"]
    return next(p["codeExecutionResult"] for p in parts if "codeExecutionResult" in p)


@pytest.fixture
def server() -> Iterator[LiveServer]:
    """A server of its own per test: what one test keeps must not count against another's limit."""
    with serving(Settings(model="scripted", session_idle_timeout=2, max_kept_sessions=2)) as server:
        yield server


def test_a_chat_keeps_its_interpreter_with_the_sdk(server: LiveServer) -> None:
    options = types.HttpOptions(base_url=server.url, headers={"x-codeloop-session": "new"})
    with genai.Client(api_key="k", http_options=options) as client:
        first = client.models.generate_content(
            model="scripted",
            contents="```python\nx = 41\nopen('notes.txt', 'w').write('kept')\n```",
            config=CODE_TOOL,
        )
    session_id = first.sdk_http_response.headers["x-codeloop-session"]
    options = types.HttpOptions(base_url=server.url, headers={"x-codeloop-session": session_id})
    with genai.Client(api_key="k", http_options=options) as client:
        chat = client.chats.create(model="scripted", config=CODE_TOOL)
        second = chat.send_message("```python\nprint(x + 1, open('notes.txt').read())\n```")
        streamed = list(
            client.models.generate_content_stream(
                model="scripted", contents="```python\nprint(x)\n```", config=CODE_TOOL
            )
        )
    assert second.code_execution_result == "42 kept\n"
    assert second.sdk_http_response.headers["x-codeloop-session"] == session_id
    assert any(chunk.code_execution_result == "41\n" for chunk in streamed)


def test_without_the_header_every_request_starts_afresh(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert result(http.post(GENERATE, json=block("y = 1")))["outcome"] == "OUTCOME_OK"
        missing = result(http.post(GENERATE, json=block("print(y)")))
    assert missing["outcome"] == "OUTCOME_FAILED" and "NameError" in missing["output"]


def test_unknown_busy_expired_and_too_many(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        unknown = http.post(GENERATE, json=block("1"), headers={"x-codeloop-session": "nope"})
        assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"
        bad = http.post(GENERATE, json=block("1"), headers={"x-codeloop-session": "../../etc"})
        assert bad.status_code == 400

        new = {"x-codeloop-session": "new"}
        opened = http.post(GENERATE, json=block("import time"), headers=new)
        session_id = opened.headers["x-codeloop-session"]
        with http.stream(
            "POST",
            GENERATE.replace("generateContent", "streamGenerateContent"),
            json=block("time.sleep(1.5)"),
            headers={"x-codeloop-session": session_id},
        ) as slow:
            chunks = slow.iter_bytes()  # kept referenced: a dropped iterator closes the response
            next(chunks)
            busy = http.post(GENERATE, json=block("1"), headers={"x-codeloop-session": session_id})
            assert busy.status_code == 409 and busy.json()["error"]["status"] == "ABORTED"
            second = http.post(GENERATE, json=block("1"), headers=new)
            assert second.status_code == 200
            third = http.post(GENERATE, json=block("1"), headers=new)
            assert third.status_code == 429 and third.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
            for _ in chunks:  # the rest of the stream: the slow block ends, and with it the lease
                pass
        again = http.post(GENERATE, json=block("print('back')"), headers={"x-codeloop-session": session_id})
        assert result(again)["output"] == "back\n"

        time.sleep(2.5)  # past session_idle_timeout: both kept sessions expire
        expired = http.post(GENERATE, json=block("1"), headers={"x-codeloop-session": session_id})
        assert expired.status_code == 404
        assert http.post(GENERATE, json=block("1"), headers=new).status_code == 200
