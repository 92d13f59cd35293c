"""`codeloop bench cluster`: what running on a Ray cluster costs, against one machine, in one run.

A local multi-node Ray cluster (ray.cluster_utils: a head and sandbox nodes, each a raylet with its
own `codeloop_sandbox` resources) on this machine, then:
(a) per-block round trip in a warm session: the local ForkSandbox vs a RaySandbox session (the hop to
    the node's host actor and back);
(b) fresh sessions per second (open, one block, close; several at once): local, then through Ray with
    one sandbox node and with two;
(c) a kept session continued over HTTP through the server that opened it vs through another server
    (two `codeloop serve --ray` processes: two replicas sharing the cluster's session directory).
Every node shares this machine's cores: (b)'s two-node figure shows the placement working, not the
capacity of a second machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

from codeloop.bench.sessions import throughput, warm_block_times
from codeloop.sandbox.base import Sandbox
from codeloop.sandbox.limits import Limits, SandboxConfig

BLOCK = "x = sum(range(1000))"
OBJECT_STORE_BYTES = 80 * 1024**2
GENERATE = "/v1beta/models/scripted:generateContent"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=50, help="Samples per latency (default 50).")
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="Duration of each sessions/s run (default 5)."
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="Sessions opened at once in (b) (default 4)."
    )
    parser.add_argument(
        "--sessions-per-node", type=int, default=8, help="codeloop_sandbox per node (default 8)."
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON, not a table.")


def run(args: argparse.Namespace) -> int:
    import ray
    from ray.cluster_utils import Cluster

    from codeloop.cluster.host import RESOURCE
    from codeloop.cluster.sandbox import NAMESPACE

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    results: dict[str, Any] = {"cpus": os.cpu_count()}
    results.update(asyncio.run(_local(args)))
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False},
    )

    def add_node() -> None:
        cluster.add_node(
            num_cpus=0, resources={RESOURCE: args.sessions_per_node}, object_store_memory=OBJECT_STORE_BYTES
        )
        cluster.wait_for_nodes()

    try:
        add_node()
        ray.init(address=cluster.address, namespace=NAMESPACE, log_to_driver=False)
        results.update(asyncio.run(_through_ray(args, cluster.address, "1_node")))
        add_node()
        results.update(asyncio.run(_through_ray(args, cluster.address, "2_nodes", latency=False)))
        results.update(_hop(args, cluster.address))
    finally:
        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]
    print(json.dumps(results, indent=2) if args.json else _table(results))
    return 0


def _config() -> SandboxConfig:
    return SandboxConfig(preload=(), spare_sessions=0)


async def _local(args: argparse.Namespace) -> dict[str, Any]:
    from codeloop.sandbox.factory import start_sandbox

    sandbox = await start_sandbox(Limits(), _config())
    try:
        return {
            "local_block_ms": _median_ms(await warm_block_times(sandbox, BLOCK, args.rounds)),
            "local_sessions_per_s": await _sessions_per_s(sandbox, args.concurrency, args.seconds),
        }
    finally:
        await sandbox.close()


async def _through_ray(
    args: argparse.Namespace, address: str, nodes: str, latency: bool = True
) -> dict[str, Any]:
    from codeloop.cluster.sandbox import RaySandbox

    sandbox = RaySandbox(Limits(), _config(), address)
    await sandbox.start()
    try:
        found: dict[str, Any] = {f"ray_nodes_{nodes}": len(sandbox.node_ids)}
        if latency:
            found["ray_block_ms"] = _median_ms(await warm_block_times(sandbox, BLOCK, args.rounds))
        # Each node's zygote and worker warm first.
        await _sessions_per_s(sandbox, args.concurrency, 1.0)
        found[f"ray_sessions_per_s_{nodes}"] = await _sessions_per_s(sandbox, args.concurrency, args.seconds)
        return found
    finally:
        await sandbox.close()


async def _sessions_per_s(sandbox: Sandbox, workers: int, seconds: float) -> float:
    return await throughput(sandbox, workers, seconds, BLOCK, fresh_sessions=True)


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def _hop(args: argparse.Namespace, address: str) -> dict[str, Any]:
    """A kept session continued through the server that opened it, and through another one."""
    from codeloop.bench.flood import _start_server

    flags = ["--ray", address, "--preload", "", "--spare-sessions", "0"]
    first, first_url = _start_server(flags)
    second, second_url = _start_server(flags)
    try:
        with (
            httpx.Client(base_url=first_url, timeout=60) as one,
            httpx.Client(base_url=second_url, timeout=60) as other,
        ):
            opened = _post(one, "x = 0", "new")
            session = opened.headers["x-codeloop-session"]
            _post(other, "x += 1", session)  # both servers warm
            same = _latencies(lambda: _post(one, "x += 1", session), args.rounds)
            hop = _latencies(lambda: _post(other, "x += 1", session), args.rounds)
        return {"same_server_continue_ms": same, "other_server_continue_ms": hop}
    finally:
        for server in (first, second):
            server.terminate()
            server.wait(30)


def _post(client: httpx.Client, code: str, session: str) -> httpx.Response:
    body = {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": f"```python\n{code}\n```"}}}
    response = client.post(GENERATE, json=body, headers={"x-codeloop-session": session})
    response.raise_for_status()
    return response


def _latencies(call: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1000, 2)


def _table(r: dict[str, Any]) -> str:
    rows = [
        ("(a) warm block round trip, local sandbox", f"{r['local_block_ms']:.2f} ms"),
        ("    through Ray (server -> node's host actor -> interpreter)", f"{r['ray_block_ms']:.2f} ms"),
        (f"(b) fresh sessions/s, local, {r['cpus']} cores", f"{r['local_sessions_per_s']:.0f}"),
        ("    through Ray, 1 sandbox node", f"{r['ray_sessions_per_s_1_node']:.0f}"),
        ("    through Ray, 2 sandbox nodes (same cores)", f"{r['ray_sessions_per_s_2_nodes']:.0f}"),
        ("(c) kept session continued over HTTP, same server", f"{r['same_server_continue_ms']:.2f} ms"),
        ("    through the other server (a replica hop)", f"{r['other_server_continue_ms']:.2f} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'measurement':<{width}} | median |", f"|{'-' * (width + 2)}|---|"]
    lines += [f"| {name:<{width}} | {value} |" for name, value in rows]
    return "\n".join(lines)
