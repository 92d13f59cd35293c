"""`codeloop eval` on two GSM8K items with the embedded 0.5B model, with and without code execution.

The model's accuracy is not asserted (two items say little); the report's shape and bookkeeping are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CODELOOP = str(Path(sys.executable).with_name("codeloop"))
FIELDS = {
    "id", "question", "expected", "answer", "correct", "blocks", "failures", "deadlines", "prompt_tokens",
    "candidates_tokens", "tool_tokens", "tokens", "seconds", "finish_reason", "text", "code", "error",
}  # fmt: skip


def test_gsm8k_with_and_without_code(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            CODELOOP, "eval", "--suite", "gsm8k", "--model", "qwen2.5-coder-0.5b", "--mode", "both",
            "--limit", "2", "--max-output-tokens", "256", "--exec-timeout", "20", "--out", str(tmp_path),
        ],
        capture_output=True, text=True, timeout=580,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for mode in ("code", "no-code"):
        report = json.loads((tmp_path / f"gsm8k-qwen2.5-coder-0.5b-test-{mode}.json").read_text())
        assert (report["suite"], report["model"], report["mode"], report["split"]) == (
            "gsm8k", "qwen2.5-coder-0.5b", mode, "test",
        )  # fmt: skip
        items = report["items"]
        assert [item["id"] for item in items] == ["gsm8k-test-0054", "gsm8k-test-0061"]
        for item in items:
            assert set(item) == FIELDS
            assert item["error"] is None and (item["text"].strip() or item["code"])
            assert item["candidates_tokens"] > 0 and item["seconds"] > 0
            assert item["correct"] == (item["answer"] == item["expected"])
            assert item["finish_reason"] in ("STOP", "MAX_TOKENS")
            assert (
                item["blocks"] == len(item["code"]) and item["failures"] + item["deadlines"] <= item["blocks"]
            )
            if mode == "no-code":
                assert item["blocks"] == 0
        summary = report["summary"]
        assert summary["items"] == 2 and summary["correct"] == sum(item["correct"] for item in items)
        assert summary["mean_seconds"] > 0
    assert (tmp_path / "gsm8k-qwen2.5-coder-0.5b-test-compare.png").read_bytes().startswith(b"\x89PNG")
