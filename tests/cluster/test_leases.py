"""Servers' leases on the sandbox nodes: a server killed mid-request has its sessions closed, and their
room freed, once its lease runs out; a live server's sessions are untouched. The hosts' renewals carry
their sessions' memory to each server's /metrics."""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import time
from typing import Any

import httpx
import pytest
import ray
from cluster_nodes import RayCluster

from codeloop.cluster.sandbox import HOST_PREFIX, NAMESPACE
from codeloop.settings import Settings
from live import serving, wait_until
from serve_process import start_serve

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

GENERATE = "/v1beta/models/scripted:generateContent"
LEASE_S = 2.0


def block(code: str) -> dict:
    return {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": f"```python\n{code}\n```"}}}


def post(url: str, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=90) as http:
        return http.post(GENERATE, json=block(code), headers=headers or {})


def open_sessions(cluster: RayCluster) -> int:
    """Sessions open on the sandbox nodes, every server's."""
    hosts = [ray.get_actor(HOST_PREFIX + node, namespace=NAMESPACE) for node in cluster.worker_ids]
    numbers: Any = ray.get([host.numbers.remote() for host in hosts], timeout=10)
    return sum(len(held) for held in numbers)


def test_a_killed_servers_sessions_close_within_its_lease_and_a_live_ones_stay(
    ray_cluster: RayCluster,
) -> None:
    flags = ("--model", "scripted", "--ray", ray_cluster.address, "--preload", "", "--spare-sessions", "0")
    settings = Settings(
        model="scripted", ray=ray_cluster.address, preload="", spare_sessions=0, ray_lease_s=LEASE_S
    )
    # The first server starts the nodes' hosts: they take its lease.
    with serving(settings) as live, concurrent.futures.ThreadPoolExecutor(2) as pool:
        doomed = start_serve(*flags, "--ray-lease-s", str(LEASE_S), capture=True, timeout_s=240)
        try:
            before = open_sessions(ray_cluster)
            stuck = pool.submit(post, doomed.url, "import time\ntime.sleep(20)")
            assert wait_until(lambda: open_sessions(ray_cluster) == before + 1, timeout=30)
            # A live server's request spans several leases, and finishes.
            slow = pool.submit(post, live.url, f"import time\ntime.sleep({4 * LEASE_S})\nprint('done')")
            assert wait_until(lambda: open_sessions(ray_cluster) == before + 2, timeout=30)

            os.kill(doomed.pid, signal.SIGKILL)
            doomed.process.communicate(timeout=10)  # its pipes closed with it
            killed_at = time.monotonic()
            assert wait_until(lambda: open_sessions(ray_cluster) == before + 1, timeout=20)
            freed_after = time.monotonic() - killed_at
            assert freed_after < LEASE_S + 6  # the lease, the host's next sweep, a busy machine's delays

            finished = slow.result(timeout=60)
            assert finished.status_code == 200, finished.text
            parts = finished.json()["candidates"][0]["content"]["parts"]
            assert any(p.get("codeExecutionResult", {}).get("output") == "done\n" for p in parts)
            with pytest.raises(httpx.HTTPError):
                stuck.result(timeout=10)
            assert wait_until(lambda: open_sessions(ray_cluster) == before, timeout=10)
        finally:
            if doomed.process.poll() is None:
                doomed.process.kill()
                doomed.process.communicate(timeout=10)


def test_metrics_show_the_memory_of_the_sessions_on_the_nodes(ray_cluster: RayCluster) -> None:
    settings = Settings(
        model="scripted", ray=ray_cluster.address, preload="", spare_sessions=0, ray_lease_s=LEASE_S
    )
    with serving(settings) as live:
        kept = post(live.url, "x = bytearray(30 << 20)", {"x-codeloop-session": "new"})
        assert kept.status_code == 200, kept.text
        nodes = "|".join(node[:12] for node in ray_cluster.worker_ids)
        line = re.compile(rf'codeloop_sandbox_session_memory_bytes\{{session="({nodes})/\d+"\}} (\S+)')

        def memory() -> list[float]:
            with httpx.Client(base_url=live.url, timeout=30) as http:
                return [float(m[2]) for m in line.finditer(http.get("/metrics").text)]

        assert wait_until(lambda: any(used > 30 << 20 for used in memory()), timeout=20)
