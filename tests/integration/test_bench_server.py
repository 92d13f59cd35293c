"""`codeloop bench server` with tiny counts: both servers start, every request is answered as it should be,
and the figures it prints add up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from codeloop.bench.server import BODY, PATH, _printed_one, table

CODELOOP = str(Path(sys.executable).with_name("codeloop"))


def test_a_quick_run_measures_codeloop_and_the_ceiling_at_each_concurrency() -> None:
    argv = ["bench", "server", "--requests", "6", "--concurrency", "1,3", "--warmup", "1", "--json"]
    done = subprocess.run([CODELOOP, *argv], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    for server in ("codeloop", "ceiling"):
        levels = figures[server]
        assert [level["concurrency"] for level in levels] == [1, 3]
        for level in levels:
            assert level["requests"] == 6 and level["failed"] == 0
            assert level["requests_per_s"] > 0 and 0 < level["p50_ms"] <= level["p99_ms"]
    expected = [
        round(ours["requests_per_s"] / bare["requests_per_s"], 3)
        for ours, bare in zip(figures["codeloop"], figures["ceiling"], strict=True)
    ]
    assert figures["ratio"] == expected
    assert "| 3 |" in table(figures)


def test_only_a_block_that_printed_one_counts_as_answered() -> None:
    request = httpx.Request("POST", PATH, json=BODY)

    def answer(status: int, outcome: str, output: str) -> httpx.Response:
        part = {"codeExecutionResult": {"outcome": outcome, "output": output, "id": "b1"}}
        body = {"candidates": [{"content": {"parts": [{"text": "Running."}, part]}}]}
        return httpx.Response(status, json=body, request=request)

    assert _printed_one(answer(200, "OUTCOME_OK", "1\n"))
    assert not _printed_one(answer(200, "OUTCOME_FAILED", "1\n"))
    assert not _printed_one(answer(200, "OUTCOME_OK", "[session reset]\n1\n"))
    assert not _printed_one(httpx.Response(429, json={"error": {}}, request=request))
