"""The official @google/genai SDK for Node, unmodified, against a live codeloop server."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).parents[1] / "node"

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def node() -> str:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "@google" / "genai").is_dir():
        pytest.fail("Node.js and tests/node/node_modules are needed: run `make test`, which installs them")
    return node


@pytest.mark.parametrize("mode", ["developer", "vertex-express"])
def test_generate_content_with_code_execution(live_server, node: str, mode: str) -> None:
    done = subprocess.run(
        [node, "client.mjs", live_server.url, mode], cwd=NODE_DIR, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["parts"] == ["text", "executableCode", "codeExecutionResult", "text"]
    assert seen["executableCode"] == "print(sum(range(1, 11)))\n"
    assert seen["codeExecutionResult"] == "55\n"
    assert seen["finishReason"] == "STOP"
    assert seen["totalTokenCount"] > 0
    assert ["executableCode"] in seen["streamed"] and ["codeExecutionResult"] in seen["streamed"]
    assert seen["fileResult"] == "ok\n"
    assert seen["written"] == {"name": "out.json", "data": '{"a":{"0":1},"b":{"0":2}}'}
    assert seen["blobIntact"]
    assert base64.b64decode(seen["blobBase64"], validate=True) == bytes(range(256))
    code_id, result_id = seen["ids"][1:3]
    assert code_id and code_id == result_id
    assert all(seen["functionCallIds"])
    assert seen["functionCalls"] == [{"name": "get_weather", "args": {"city": "Paris"}}]
    assert '"celsius": 21' in seen["answered"]


def test_interactions_keep_the_conversations_interpreter(live_server, node: str) -> None:
    done = subprocess.run(
        [node, "interactions.mjs", live_server.url], cwd=NODE_DIR, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["status"] == "completed"
    assert seen["steps"] == [
        "user_input",
        "model_output",
        "code_execution_call",
        "code_execution_result",
        "model_output",
    ]
    assert seen["paired"] is True
    assert seen["result"] == "42\n", "the second turn's code found the first turn's variable"
    assert "42" in seen["outputText"]
    assert seen["events"] == [
        "interaction.created",
        "step.start",
        "step.delta",
        "step.stop",
        "interaction.completed",
    ]
    assert seen["streamedResult"] == "43\n"
    assert seen["gotStatus"] == "completed"
    assert seen["deleted"] == 404


@pytest.mark.parametrize("mode", ["developer", "vertex-express"])
def test_live_output_streams_through_the_sdk(live_server, node: str, mode: str) -> None:
    done = subprocess.run(
        [node, "live_output.mjs", live_server.url, mode],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    chunks = json.loads(done.stdout)
    (code_id,) = [
        part["executableCode"]["id"]
        for chunk in chunks
        for part in chunk["parts"]
        if "executableCode" in part
    ]
    results = [
        (chunk["at"], part["codeExecutionResult"])
        for chunk in chunks
        for part in chunk["parts"]
        if "codeExecutionResult" in part
    ]
    assert [result for _, result in results] == [
        {"id": code_id, "output": "a\n"},
        {"id": code_id, "output": "b\n"},
        {"id": code_id, "outcome": "OUTCOME_OK", "output": "a\nb\n"},
    ]
    assert results[2][0] - results[0][0] > 500, "the first line came only with the result"
    assert chunks[-1]["finishReason"] == "STOP"
