"""`codeloop bench server`: the whole request path's throughput and latency, against its ceiling.

Two servers in turn, each in its own process on loopback, the same load on each:

- codeloop: `codeloop serve --model scripted`; each request is a generateContent whose scripted model writes
  one ```python print(1)``` block, runs it in a fresh isolated session, then answers in text;
- the ceiling: a bare FastAPI app (ceiling.py) whose endpoint `exec`s the same block in-process.

An async httpx client sends a fixed number of requests at each concurrency (after a few to warm up) and
reports requests per second, p50 and p99 latency, and codeloop's throughput as a share of the ceiling's.
The client runs on the same cores as the server, as a real one on the same machine would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

BLOCK = "print(1)"
BODY = {
    "tools": [{"codeExecution": {}}],
    "contents": [{"role": "user", "parts": [{"text": f"```python\n{BLOCK}\n```"}]}],
}
PATH = "/v1beta/models/scripted:generateContent"
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Level:
    """One concurrency's figures."""

    concurrency: int
    requests: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    failed: int  # not a 200 whose block printed "1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--requests", type=int, default=300, help="Requests per concurrency and server (default 300)."
    )
    parser.add_argument(
        "--concurrency",
        type=_levels,
        default=(1, 8, 50),
        help="Comma-separated requests in flight, one run each (default 1,8,50).",
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="Requests sent before each measurement (default 20)."
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON, not a table.")


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("each concurrency must be at least 1")
    return levels


def run(args: argparse.Namespace) -> int:
    results = asyncio.run(measure(args.requests, args.concurrency, args.warmup))
    print(json.dumps(results, indent=2) if args.json else table(results))
    return 0 if not any(level["failed"] for level in results["codeloop"]) else 1


async def measure(requests: int, levels: Sequence[int], warmup: int) -> dict[str, Any]:
    """Both servers' figures at each concurrency, and codeloop's throughput over the ceiling's."""
    results: dict[str, Any] = {"cpus": os.cpu_count(), "block": BLOCK}
    servers = {"codeloop": _codeloop_command, "ceiling": _ceiling_command}
    for name, command in servers.items():
        port = _free_port()
        with _serving(command(port), port) as url:
            results[name] = [asdict(await _load(url, requests, c, warmup)) for c in levels]
    results["ratio"] = [
        round(ours["requests_per_s"] / bare["requests_per_s"], 3)
        for ours, bare in zip(results["codeloop"], results["ceiling"], strict=True)
    ]
    return results


def _codeloop_command(port: int) -> list[str]:
    codeloop = str(Path(sys.executable).with_name("codeloop"))
    # No per-client cap: all the load comes from one address, on purpose.
    flags = ["--model", "scripted", "--log-level", "warning", "--max-concurrent-per-key", "0"]
    return [codeloop, "serve", "--port", str(port), *flags]


def _ceiling_command(port: int) -> list[str]:
    app = "codeloop.bench.ceiling:create_app"
    flags = ["--factory", "--no-access-log", "--log-level", "warning"]
    return [sys.executable, "-m", "uvicorn", app, "--port", str(port), *flags]


async def _load(url: str, requests: int, concurrency: int, warmup: int) -> Level:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await _drive(client, warmup, concurrency)
        started = time.perf_counter()
        latencies, failed = await _drive(client, requests, concurrency)
        seconds = time.perf_counter() - started
    latencies.sort()
    return Level(
        concurrency=concurrency,
        requests=requests,
        seconds=round(seconds, 3),
        requests_per_s=round(requests / seconds, 1),
        p50_ms=_percentile_ms(latencies, 0.50),
        p99_ms=_percentile_ms(latencies, 0.99),
        failed=failed,
    )


async def _drive(client: httpx.AsyncClient, requests: int, concurrency: int) -> tuple[list[float], int]:
    """Send the requests, `concurrency` at a time: each one's latency, and how many failed."""
    left = requests
    latencies: list[float] = []
    failed = 0

    async def worker() -> None:
        nonlocal left, failed
        while left > 0:
            left -= 1
            started = time.perf_counter()
            response = await client.post(PATH, json=BODY)
            latencies.append(time.perf_counter() - started)
            failed += not _printed_one(response)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, max(requests, 1)))))
    return latencies, failed


def _printed_one(response: httpx.Response) -> bool:
    if response.status_code != 200:
        return False
    parts = response.json()["candidates"][0]["content"]["parts"]
    results = [p["codeExecutionResult"] for p in parts if "codeExecutionResult" in p]
    if len(results) != 1:
        return False
    return (results[0].get("outcome"), results[0].get("output")) == ("OUTCOME_OK", "1\n")


def _percentile_ms(sorted_samples: list[float], fraction: float) -> float:
    if not sorted_samples:
        return 0.0
    index = min(int(len(sorted_samples) * fraction), len(sorted_samples) - 1)
    return round(sorted_samples[index] * 1000, 2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _serving(command: list[str], port: int) -> Iterator[str]:
    """A server process for the length of a with block; its URL once it listens."""
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _listening(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bench: the server did not start: {' '.join(command)}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listening(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=5)  # any answer, the ceiling's 404 included
    except httpx.TransportError:
        return False
    return True


def table(results: dict[str, Any]) -> str:
    lines = [
        f"generateContent with one block ({results['block']}), {results['cpus']} CPUs; "
        "ceiling: bare FastAPI, the block exec'd in-process",
        "| concurrency | codeloop req/s | p50 ms | p99 ms | ceiling req/s | p50 ms | p99 ms | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ours, bare, ratio in zip(results["codeloop"], results["ceiling"], results["ratio"], strict=True):
        failed = f" ({ours['failed']} failed)" if ours["failed"] else ""
        lines.append(
            f"| {ours['concurrency']} | {ours['requests_per_s']:.0f}{failed} | {ours['p50_ms']:.1f} | "
            f"{ours['p99_ms']:.1f} | {bare['requests_per_s']:.0f} | {bare['p50_ms']:.1f} | "
            f"{bare['p99_ms']:.1f} | {ratio:.0%} |"
        )
    return "\n".join(lines)
