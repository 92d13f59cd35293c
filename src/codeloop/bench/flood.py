"""`codeloop bench flood`: what hostile blocks cost the server, side by side with benign ones.

Two servers in turn, the same load on each: concurrent generateContent requests (scripted model), each
running one block. Benign blocks produce the largest legitimate results (a megabyte of output, a hundred
files, one 30 MiB file); hostile blocks forge their result frame on the sandbox's control socket (hundreds
of thousands of files, an absurd frame length, a huge name, garbage) or print without end. Meanwhile a
prober asks /healthz every 50 ms. Reported per load: the server's peak memory (VmHWM) and the worst and
p99 /healthz latency, and the hostile/benign ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

# User code that writes one frame (4-byte big-endian length, then the payload) on every socket it holds:
# in a session process that is the control socket the server reads results from.
_FORGE = """
import json, os, struct
def forge(payload, length=None):
    header = struct.pack('>I', len(payload) if length is None else length)
    for fd in os.listdir('/proc/self/fd'):
        try:
            if os.readlink(f'/proc/self/fd/{fd}').startswith('socket:'):
                view = memoryview(header + payload)
                while view:
                    view = view[os.write(int(fd), view):]
        except OSError:
            pass
def result(files=(), stats=None):
    stats = stats or {'cpu_ms': 1, 'wall_ms': 1, 'peak_memory_bytes': 1}
    frame = {'type': 'result', 'ok': True, 'trailer': '', 'stats': stats, 'files': list(files)}
    return json.dumps(frame).encode()
"""

HOSTILE = {
    "many_files": _FORGE + "forge(result([{'name': 'f', 'mime_type': 'text/plain', 'data': ''}] * 800_000))",
    "huge_length": _FORGE + "forge(b'{}', length=0xFFFFFFFF)",
    "huge_name": _FORGE + "forge(result([{'name': 'n' * 30_000_000, 'mime_type': 'a/b', 'data': ''}]))",
    "bad_stats": _FORGE
    + "forge(result(stats={'cpu_ms': float('nan'), 'wall_ms': -1, 'peak_memory_bytes': 1e300}))",
    "garbage": _FORGE + "forge(os.urandom(1 << 20))",
    "endless_print": "while True:\n    print('x' * 65536)",
}

BENIGN = {
    "big_output": "print('x' * (1 << 20))",
    "many_files": "for i in range(100):\n    open(f'f{i}.txt', 'w').write('y' * 300_000)",
    "big_file": "import os\nopen('big.bin', 'wb').write(os.urandom(30 << 20))",
    "busy": "sum(i * i for i in range(2_000_000))",
    "plot": "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()",
    "tiny": "print(6 * 7)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=60, help="Requests per load (default 60).")
    parser.add_argument("--concurrency", type=int, default=6, help="Requests in flight (default 6).")
    parser.add_argument(
        "--insecure-no-sandbox", action="store_true", help="Run the servers without isolation."
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON, not a table.")


def run(args: argparse.Namespace) -> int:
    results = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "benign": asyncio.run(_load(BENIGN, args)),
        "hostile": asyncio.run(_load(HOSTILE, args)),
    }
    benign, hostile = results["benign"], results["hostile"]
    results["ratios"] = {
        key: round(hostile[key] / benign[key], 2) if benign[key] else None
        for key in ("peak_rss_mib", "healthz_worst_ms", "healthz_p99_ms")
    }
    print(json.dumps(results, indent=2) if args.json else _table(results))
    return 0


async def _load(blocks: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    flags = ["--insecure-no-sandbox"] if args.insecure_no_sandbox else []
    server, url = _start_server(flags)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=300) as client:
            stop = asyncio.Event()
            prober = asyncio.create_task(_probe(client, stop))
            started = time.perf_counter()
            outcomes = await _drive(client, list(blocks.values()), args.requests, args.concurrency)
            seconds = time.perf_counter() - started
            stop.set()
            latencies = await prober
        peak = _peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies.sort()
    return {
        "seconds": round(seconds, 1),
        "responses": outcomes,
        "peak_rss_mib": peak,
        "healthz_probes": len(latencies),
        "healthz_worst_ms": round(latencies[-1] * 1000, 1),
        "healthz_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "healthz_median_ms": round(statistics.median(latencies) * 1000, 1),
    }


async def _drive(
    client: httpx.AsyncClient, blocks: list[str], requests: int, concurrency: int
) -> dict[str, int]:
    """Send the requests, `concurrency` at a time; count the outcomes each got (or its HTTP status)."""
    counts: dict[str, int] = {}
    queue = [blocks[i % len(blocks)] for i in range(requests)]

    async def worker() -> None:
        while queue:
            code = queue.pop()
            body = {
                "tools": [{"codeExecution": {}}],
                "contents": [{"parts": [{"text": f"```python\n{code}\n```"}]}],
            }
            response = await client.post("/v1beta/models/scripted:generateContent", json=body)
            if response.status_code != 200:
                label = f"HTTP {response.status_code}"
            else:
                parts = response.json()["candidates"][0]["content"]["parts"]
                label = next(
                    (p["codeExecutionResult"]["outcome"] for p in parts if "codeExecutionResult" in p), "none"
                )
            counts[label] = counts.get(label, 0) + 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return counts


async def _probe(client: httpx.AsyncClient, stop: asyncio.Event) -> list[float]:
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        await client.get("/healthz")
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.05)
    return latencies


def _start_server(flags: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    codeloop = str(Path(sys.executable).with_name("codeloop"))
    server = subprocess.Popen(
        [codeloop, "serve", "--port", str(port), "--model", "scripted", "--log-level", "warning", *flags],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("bench: the server did not start")


def _peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmHWM for pid {pid}")


def _table(results: dict[str, Any]) -> str:
    rows = [
        ("peak server memory (MiB)", "peak_rss_mib"),
        ("/healthz worst (ms)", "healthz_worst_ms"),
        ("/healthz p99 (ms)", "healthz_p99_ms"),
        ("/healthz median (ms)", "healthz_median_ms"),
        ("seconds", "seconds"),
    ]
    lines = [
        f"{results['requests']} requests, {results['concurrency']} at a time, per load",
        f"{'':26} {'benign':>10} {'hostile':>10} {'ratio':>7}",
    ]
    for label, key in rows:
        ratio = results["ratios"].get(key)
        benign, hostile = results["benign"][key], results["hostile"][key]
        lines.append(f"{label:26} {benign:>10} {hostile:>10} {'' if ratio is None else ratio:>7}")
    for load in ("benign", "hostile"):
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(results[load]["responses"].items()))
        lines.append(f"{load} responses: {outcomes}")
    return "\n".join(lines)
