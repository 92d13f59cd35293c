"""codeloop under Ray Serve with an `openai:` model: every replica drives the loop on an upstream
OpenAI-compatible server (a scripted one, its own uvicorn process), and a generateContent with code
execution through Serve's proxy comes back with the code, its result and the final text."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cluster_nodes import RayCluster, serve_app
from openai_stub import FINAL

from codeloop.cluster.serve import REPLICA_HEADER
from serve_process import free_port, http_process

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "openai_stub:app", "--app-dir", str(HERE)]
    command += ["--port", str(port), "--log-level", "warning"]
    url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("upstream") / "stub.log"
    with http_process(command, f"{url}/models", within_s=60, log=log):
        yield url


@pytest.fixture(scope="module")
def proxy(ray_cluster: RayCluster, upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(
        {"model": "openai:stub", "upstream_url": upstream}, tmp_path_factory.mktemp("shared-data")
    ) as url:
        yield url


def test_code_execution_on_an_upstream_model_through_the_serve_proxy(proxy: str) -> None:
    body = {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": "What is 6 times 7?"}}}
    with httpx.Client(base_url=proxy, timeout=120) as http:
        answer = http.post("/v1beta/models/openai:stub:generateContent", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.headers[REPLICA_HEADER]
    parts = answer.json()["candidates"][0]["content"]["parts"]
    code = next(p["executableCode"] for p in parts if "executableCode" in p)
    result = next(p["codeExecutionResult"] for p in parts if "codeExecutionResult" in p)
    assert code["code"].strip() == "print(6 * 7)"
    assert (result["outcome"], result["output"]) == ("OUTCOME_OK", "42\n")
    assert parts[-1]["text"].strip() == FINAL
