"""API keys, per-key limits, request ids and /metrics, through a live server and the official SDK."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import google.oauth2.credentials
import httpx
import pytest
from google import genai
from google.genai import errors, types
from prometheus_client.parser import text_string_to_metric_families

from codeloop.server.logs import RequestIdFilter
from codeloop.settings import Settings
from live import LiveServer, serving, wait_until
from serve_process import start_serve

CODELOOP = str(Path(sys.executable).with_name("codeloop"))
CODE_TOOL = types.GenerateContentConfig(tools=[types.Tool(code_execution=types.ToolCodeExecution())])
PROMPT = "```python\nprint(6 * 7)\n```"
GENERATE = "/v1beta/models/scripted:generateContent"
BODY = json.dumps({"tools": {"codeExecution": {}}, "contents": {"parts": {"text": PROMPT}}})
SLOW_BODY = json.dumps(
    {
        "tools": {"codeExecution": {}},
        "contents": {"parts": {"text": "```python\nimport time\ntime.sleep(60)\n```"}},
    }
)
MAX_BYTES = 64 << 10


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    keys_file = tmp_path_factory.mktemp("keys") / "keys"
    keys_file.write_text("# keys of the tests\nfile-key\n")
    settings = Settings(
        model="scripted",
        exec_timeout=5,
        api_keys="env-key,other-key",
        api_keys_file=keys_file,
        max_concurrent_per_key=1,
        max_request_bytes=MAX_BYTES,
    )
    with serving(settings) as server:
        yield server


def developer(url: str, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=url))


def vertex(url: str, token: str) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=google.oauth2.credentials.Credentials(token=token),
        http_options=types.HttpOptions(base_url=url),
    )


def vertex_express(url: str, key: str) -> genai.Client:
    return genai.Client(vertexai=True, api_key=key, http_options=types.HttpOptions(base_url=url))


@pytest.mark.parametrize(
    "make_client",
    [developer, vertex, vertex_express],
    ids=["developer-key", "vertex-bearer", "vertex-express-key"],
)
def test_the_sdk_passes_with_a_key_and_fails_with_a_wrong_one(keyed_server, make_client) -> None:
    for key in ("env-key", "file-key"):
        with make_client(keyed_server.url, key) as client:
            response = client.models.generate_content(model="scripted", contents=PROMPT, config=CODE_TOOL)
            assert response.code_execution_result == "42\n"
            assert [chunk for chunk in client.models.generate_content_stream(model="scripted", contents="hi")]
    with make_client(keyed_server.url, "wrong-key") as client, pytest.raises(errors.ClientError) as denied:
        client.models.generate_content(model="scripted", contents=PROMPT, config=CODE_TOOL)
    assert denied.value.code == 403
    assert denied.value.status == "PERMISSION_DENIED"
    assert denied.value.message == "API key not valid. Please pass a valid API key."


def test_every_route_but_healthz_and_the_playground_page_needs_a_key(keyed_server) -> None:
    with keyed_server.client() as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/playground/").status_code == 200
        for method, path in [
            ("POST", GENERATE),
            ("GET", "/v1beta/models"),
            ("GET", "/metrics"),
            ("GET", "/nope"),
            ("POST", "/playground/config.json"),
        ]:
            missing = http.request(method, path, content=BODY)
            assert missing.status_code == 401, path
            error = missing.json()["error"]
            assert error["code"] == 401 and error["status"] == "UNAUTHENTICATED"
            assert error["message"].startswith("Request is missing required authentication credential.")
        assert http.get("/v1beta/models", params={"key": "other-key"}).status_code == 200
        assert http.get("/v1beta/models", headers={"x-goog-api-key": "env-key"}).status_code == 200
        assert http.get("/v1beta/models", headers={"authorization": "Bearer file-key"}).status_code == 200
        wrong = http.get("/v1beta/models", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 403 and wrong.json()["error"]["status"] == "PERMISSION_DENIED"
        assert http.get("/nope", params={"key": "env-key"}).status_code == 404


def test_bodies_over_the_size_limit_are_refused(keyed_server) -> None:
    big = json.dumps({"contents": {"parts": {"text": "x" * MAX_BYTES}}})
    with keyed_server.client() as http:
        refused = http.post(GENERATE, content=big, headers={"x-goog-api-key": "env-key"})
    assert refused.status_code == 413
    assert refused.json()["error"]["message"].startswith(
        "Request payload size exceeds the limit: 65536 bytes"
    )


def test_past_the_per_key_limit_requests_are_refused_until_a_stream_ends(keyed_server) -> None:
    url = "/v1beta/models/scripted:streamGenerateContent?alt=sse&key=env-key"
    with keyed_server.client() as http, keyed_server.client() as other:
        with http.stream("POST", url, content=SLOW_BODY) as stream:
            lines = stream.iter_lines()
            assert any("executableCode" in line for line in lines)  # the block is running now
            started = time.monotonic()
            refused = other.post(GENERATE, content=BODY, headers={"x-goog-api-key": "env-key"})
            assert time.monotonic() - started < 2, "a request past the limit must not wait for a slot"
            assert refused.status_code == 429
            assert refused.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
            assert (
                other.post(GENERATE, content=BODY, headers={"x-goog-api-key": "other-key"}).status_code == 200
            )
            assert (
                other.get("/metrics", params={"key": "env-key"}).status_code == 200
            )  # scrapes are not limited
        # The client walked away mid-stream: its slot comes back without waiting for the block's 60 s.
        assert wait_until(
            lambda: (
                other.post(GENERATE, content=BODY, headers={"x-goog-api-key": "env-key"}).status_code == 200
            )
        )


def test_request_ids_are_returned_and_logged(keyed_server) -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("codeloop.server")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with keyed_server.client() as http:
            given = http.post(
                GENERATE, content=BODY, headers={"x-goog-api-key": "env-key", "x-request-id": "abc-1"}
            )
            made = http.get("/v1beta/models", headers={"x-goog-api-key": "wrong"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert given.headers["x-request-id"] == "abc-1"
    assert made.status_code == 403 and len(made.headers["x-request-id"]) == 32
    lines = {r.__dict__["request_id"]: r.__dict__["fields"] for r in records if r.getMessage() == "request"}
    assert lines["abc-1"] == {**lines["abc-1"], "method": "POST", "path": GENERATE, "status": 200}
    assert lines[made.headers["x-request-id"]]["status"] == 403


def test_unexpected_failures_name_the_request_id(keyed_server, monkeypatch) -> None:
    def broken(model: str):
        raise RuntimeError("a bug")

    monkeypatch.setattr(keyed_server.app.state.runtime.registry, "resolve", broken)
    with keyed_server.client() as http:
        failed = http.post(
            GENERATE, content=BODY, headers={"x-goog-api-key": "env-key", "x-request-id": "find-me"}
        )
    assert failed.status_code == 500
    assert failed.headers["x-request-id"] == "find-me"
    assert failed.json()["error"]["message"] == (
        "Internal error; the server log has the details (request id find-me)."
    )


def metric_samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_requests_executions_tokens_and_sessions(keyed_server) -> None:
    with keyed_server.client() as http:
        failing = json.dumps(
            {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": "```python\n1/0\n```"}}}
        )
        assert http.post(GENERATE, content=failing, headers={"x-goog-api-key": "env-key"}).status_code == 200
        assert http.post(GENERATE, content=BODY, headers={"x-goog-api-key": "env-key"}).status_code == 200
        assert http.get("/v1beta/models").status_code == 401
        scraped = http.get("/metrics", headers={"authorization": "Bearer env-key"})
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    found = metric_samples(scraped.text)
    route = "/{version}/models/{model}:{method}"
    ok = found[
        (
            "codeloop_http_requests_total",
            frozenset({"route": route, "method": "POST", "status": "200"}.items()),
        )
    ]
    assert ok >= 2
    unauthenticated = frozenset({"route": "/{version}/models", "method": "GET", "status": "401"}.items())
    assert found[("codeloop_http_requests_total", unauthenticated)] >= 1
    assert found[
        (
            "codeloop_http_request_duration_seconds_count",
            frozenset({"route": route, "method": "POST"}.items()),
        )
    ]
    assert found[("codeloop_code_executions_total", frozenset({"outcome": "OUTCOME_OK"}.items()))] >= 1
    assert found[("codeloop_code_executions_total", frozenset({"outcome": "OUTCOME_FAILED"}.items()))] >= 1
    for kind in ("prompt", "candidates", "tool_use_prompt"):
        assert found[("codeloop_tokens_total", frozenset({"model": "scripted", "kind": kind}.items()))] > 0
    assert ("codeloop_sandbox_sessions", frozenset({"state": "open"}.items())) in found
    # the one interpreter --spare-sessions keeps started, refilled as soon as a request took it
    assert found[("codeloop_sandbox_sessions", frozenset({"state": "spare"}.items()))] == 1
    assert found[("codeloop_http_requests_in_flight", frozenset())] == 1  # the scrape itself


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CODELOOP_")}
    return subprocess.run(
        [CODELOOP, "serve", "--model", "scripted", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environment, **(env or {})},
    )


def test_serve_refuses_to_listen_beyond_loopback_without_keys(tmp_path: Path) -> None:
    refused = serve("--host", "0.0.0.0", "--port", "0")
    assert refused.returncode == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in refused.stderr
    assert "--allow-unauthenticated" in refused.stderr and "Traceback" not in refused.stderr
    empty = tmp_path / "keys"
    empty.write_text("# nobody\n")
    bad_file = serve("--host", "0.0.0.0", "--port", "0", "--api-keys-file", str(empty))
    assert bad_file.returncode == 2 and "holds no key" in bad_file.stderr
    helped = serve("--help")
    for flag in ("--api-keys-file", "--allow-unauthenticated", "--max-concurrent-per-key", "--log-format"):
        assert flag in helped.stdout


def test_serve_writes_json_logs_with_request_ids() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CODELOOP_")}
    server = start_serve(
        "--model",
        "scripted",
        "--log-format",
        "json",
        env={**environment, "CODELOOP_LOG_LEVEL": "info"},
        capture=True,
    )
    url = server.url
    try:
        answered = httpx.post(
            f"{url}{GENERATE}", content=BODY, headers={"x-request-id": "json-1"}, timeout=30
        )
        assert answered.status_code == 200 and answered.headers["x-request-id"] == "json-1"
    finally:
        _, stderr = server.stop()
    entries = [json.loads(line) for line in stderr.splitlines() if line.strip()]  # every line is JSON
    (line,) = [entry for entry in entries if entry["request_id"] == "json-1"]
    assert line["message"] == "request" and line["status"] == 200 and line["path"] == GENERATE
    assert any(entry["logger"].startswith("uvicorn") for entry in entries)
