"""codeloop under Ray Serve with an `openai:` model: every replica drives the loop on an upstream
OpenAI-compatible server (a scripted one, its own uvicorn process), and a generateContent with code
execution through Serve's proxy comes back with the code, its result and the final text."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cluster_nodes import RayCluster
from openai_stub import FINAL

from codeloop.cluster.serve import REPLICA_HEADER, app_builder
from serve_process import free_port

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "openai_stub:app", "--app-dir", str(HERE)]
    server = subprocess.Popen([*command, "--port", str(port), "--log-level", "warning"])
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "the stub upstream exited"
            assert time.monotonic() < deadline, "the stub upstream did not come up"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def proxy(ray_cluster: RayCluster, upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port}, proxy_location="HeadOnly")
    app = app_builder(
        {
            "model": "openai:stub",
            "upstream_url": upstream,
            "preload": "",
            "spare_sessions": 0,
            "data_dir": str(tmp_path_factory.mktemp("shared-data")),
            "min_replicas": 2,
            "max_replicas": 2,
            "num_cpus": 0.5,
        }
    )
    serve.run(app, name="codeloop", route_prefix="/")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()


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
