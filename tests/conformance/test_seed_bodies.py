"""The seed document's request bodies, byte for byte, on every path that serves generateContent."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

SEED = Path(__file__).parent / "seed"
REQUEST_JSON = (SEED / "request.json").read_bytes()
CHAT_BODY = (SEED / "chat_body.txt").read_bytes()
# What bash actually sends for the seed's `-d $'{ "tools": [{'code_execution': {}}], ...}'`:
# the inner single quotes end and reopen the shell string, leaving a bare key.
CHAT_BODY_AS_SENT = CHAT_BODY.replace(b"'code_execution'", b"code_execution")

VERTEX = "/v1/projects/test-project/locations/us-central1/publishers/google/models/{model}:{method}"
PATHS = [
    VERTEX,
    "/v1beta1/projects/test-project/locations/global/publishers/google/models/{model}:{method}",
    "/v1/publishers/google/models/{model}:{method}",
    "/v1beta/models/{model}:{method}",
    "/v1/models/{model}:{method}",
]
BODIES = {
    "request.json": REQUEST_JSON,
    "chat as written": CHAT_BODY,
    "chat as sent by bash": CHAT_BODY_AS_SENT,
}


def test_the_bodies_are_not_strict_json() -> None:
    for body in BODIES.values():
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", list(BODIES))
def test_generate_content(live_server, path: str, name: str) -> None:
    with live_server.client() as http:
        response = http.post(
            path.format(model="gemini-2.0-flash-001", method="generateContent"),
            content=BODIES[name],
            headers={"Content-Type": "application/json; charset=utf-8", "Authorization": "Bearer token"},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    candidate = body["candidates"][0]
    assert candidate["content"]["role"] == "model"
    assert candidate["content"]["parts"][0]["text"]
    assert candidate["finishReason"] == "STOP"
    assert candidate["index"] == 0
    usage = body["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert {"modelVersion", "createTime", "responseId"} <= body.keys()


@pytest.mark.parametrize("name", list(BODIES))
def test_stream_generate_content_as_json_array(live_server, name: str) -> None:
    with live_server.client() as http:
        response = http.post(
            VERTEX.format(model="scripted", method="streamGenerateContent"), content=BODIES[name]
        )
    assert response.status_code == 200, response.text
    chunks = response.json()
    assert isinstance(chunks, list) and len(chunks) > 1
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "usageMetadata" in chunks[-1]


@pytest.mark.parametrize("name", list(BODIES))
def test_stream_generate_content_as_sse(live_server, name: str) -> None:
    with live_server.client() as http:
        response = http.post(
            VERTEX.format(model="scripted", method="streamGenerateContent") + "?alt=sse", content=BODIES[name]
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [e for e in response.text.split("\r\n\r\n") if e]
    assert all(event.startswith("data: ") for event in events)
    chunks = [json.loads(event.removeprefix("data: ")) for event in events]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("script", ["chat_curl.sh", "request_curl.sh"])
def test_the_seed_curl_commands_run_by_bash(live_server, script: str, tmp_path: Path) -> None:
    """The seed's own shell commands, only the host and the token swapped, run by real bash and curl."""
    command = (SEED / script).read_text()
    command = command.replace("$(gcloud auth print-access-token)", "test-token")
    command = command.replace("https://aiplatform.googleapis.com", live_server.url)
    command = command.replace("https://LOCATION-aiplatform.googleapis.com", live_server.url)
    for placeholder, value in [
        ("PROJECT_ID", "test-project"),
        ("LOCATION", "us-central1"),
        ("MODEL_ID", "scripted"),
        ("GENERATE_RESPONSE_METHOD", "generateContent"),
    ]:
        command = command.replace(placeholder, value)
    (tmp_path / "request.json").write_bytes(REQUEST_JSON)
    done = subprocess.run(
        ["bash", "-c", command.replace("curl ", "curl -sS --fail-with-body ", 1)],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
    body = json.loads(done.stdout)
    assert body["candidates"][0]["content"]["role"] == "model"
    assert body["candidates"][0]["finishReason"] == "STOP"
