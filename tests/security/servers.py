"""Real `codeloop serve` processes for the escape tests, with a canary in their environment."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from serve_process import ServeProcess, start_serve

REPO = Path(__file__).resolve().parents[2]
CANARY = "codeloop-canary-" + secrets.token_hex(8)
LIMITS = (
    *("--exec-timeout", "2", "--exec-memory-mib", "256", "--exec-pids", "64"),
    *("--exec-disk-mib", "64", "--output-limit", "65536"),
)


@dataclass(frozen=True)
class Result:
    outcome: str
    output: str


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    data_dir: str

    def execute(self, code: str, timeout: float = 60) -> Result:
        """Run one block through the API, as a model's code; then check the server still answers."""
        question = f"```python\n{code}\n```"
        body = json.dumps({"tools": {"codeExecution": {}}, "contents": {"parts": {"text": question}}})
        response = httpx.post(
            f"{self.url}/v1beta/models/scripted:generateContent", content=body, timeout=timeout
        )
        assert response.status_code == 200, response.text
        parts = response.json()["candidates"][0]["content"]["parts"]
        (result,) = [p["codeExecutionResult"] for p in parts if "codeExecutionResult" in p]
        self.assert_healthy()
        return Result(result["outcome"], result.get("output", ""))

    def assert_healthy(self) -> None:
        assert httpx.get(f"{self.url}/healthz", timeout=10).json() == {"status": "ok"}


def start_server(*flags: str, env: dict[str, str] | None = None) -> Server:
    """A server with the escape tests' limits, these flags, and env on top of this environment."""
    environment = {
        **os.environ,
        "CODELOOP_SECURITY_CANARY": CANARY,
        "CODELOOP_LOG_LEVEL": "warning",
        **(env or {}),
    }
    # A Files API of its own: what an attack stores there must not outlive the server or reach another.
    data_dir = tempfile.mkdtemp(prefix="codeloop-security-")
    try:
        served = start_serve("--model", "scripted", "--data-dir", data_dir, *LIMITS, *flags, env=environment)
    except BaseException:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise
    return Server(served.url, served.process, data_dir)


def stop_server(server: Server) -> None:
    ServeProcess(server.url, server.process).stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)
