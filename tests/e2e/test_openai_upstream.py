"""An OpenAI-compatible upstream (llama-cpp-python's own server on the 0.5B file) as codeloop's model."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import pytest
from google import genai
from google.genai import types

from codeloop.backends.catalog import QWEN_05B
from codeloop.settings import Settings
from live import LiveServer, serving
from serve_process import free_port, http_process

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model_file = Settings().cache_dir / "models" / QWEN_05B.weights.file_name
    if not model_file.exists():
        pytest.fail(f"{model_file} is missing: `make test` pulls it")
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_file), "--model_alias", "qwen"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--chat_format", "chatml"]
    url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("upstream") / "server.log"
    with http_process(command, f"{url}/models", within_s=120, log=log):
        yield url


@pytest.fixture(scope="module")
def codeloop_server(upstream: str) -> Iterator[LiveServer]:
    with serving(Settings(model="openai:qwen", upstream_url=upstream, exec_timeout=20)) as server:
        yield server


def test_the_loop_runs_on_an_upstream_model(codeloop_server: LiveServer) -> None:
    config = types.GenerateContentConfig(
        tools=[types.Tool(code_execution=types.ToolCodeExecution())], temperature=0, seed=0
    )
    with genai.Client(
        api_key="unused", http_options=types.HttpOptions(base_url=codeloop_server.url)
    ) as client:
        response = client.models.generate_content(
            model="openai:qwen",
            contents="How many days are there between 2024-01-15 and 2024-12-25? Use code.",
            config=config,
        )
        chunks = list(
            client.models.generate_content_stream(
                model="openai:qwen", contents="Say hello in one word.", config=config
            )
        )
    parts = response.candidates[0].content.parts
    assert any(part.executable_code for part in parts)
    assert any(
        part.code_execution_result and part.code_execution_result.output.strip() == "345" for part in parts
    )
    assert response.model_version == "openai:qwen"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert "".join(chunk.text or "" for chunk in chunks).strip()


def test_an_unreachable_upstream_is_503() -> None:
    settings = Settings(model="openai:qwen", upstream_url=f"http://127.0.0.1:{free_port()}/v1")
    body = {"contents": {"parts": {"text": "hi"}}}
    with serving(settings) as server:
        streamed = httpx.post(
            f"{server.url}/v1beta/models/openai:qwen:streamGenerateContent?alt=sse", json=body
        )
        whole = httpx.post(f"{server.url}/v1beta/models/openai:qwen:generateContent", json=body)
    assert streamed.status_code == 200  # the stream started: the failure arrives as its last chunk
    assert '"status":"UNAVAILABLE"' in streamed.text
    assert whole.status_code == 503
    assert whole.json()["error"]["status"] == "UNAVAILABLE"
