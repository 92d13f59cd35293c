"""Losing a sandbox node: its requests end with UNAVAILABLE, its kept sessions answer 404 lost, new
sessions go to the nodes left, and nothing of it is left behind; a node that returns is used again."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import ray
from cluster_nodes import RayCluster

from codeloop.cluster.directory import NAME
from codeloop.cluster.sandbox import HOST_PREFIX, NAMESPACE
from codeloop.settings import Settings
from live import LiveServer, serving, wait_until
from processes import alive, descendants

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

GENERATE = "/v1beta/models/scripted:generateContent"


def block(code: str) -> dict:
    return {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": f"```python\n{code}\n```"}}}


@pytest.fixture(scope="module")
def server(ray_cluster: RayCluster) -> Iterator[LiveServer]:
    settings = Settings(
        model="scripted", ray=ray_cluster.address, preload="", spare_sessions=0, exec_timeout=60
    )
    with serving(settings) as live:
        yield live


def post(server: LiveServer, code: str, session: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=90) as http:
        return http.post(GENERATE, json=block(code), headers={"x-codeloop-session": session})


def node_of(session_id: str) -> str:
    directory = ray.get_actor(NAME, namespace=NAMESPACE)
    node: Any = ray.get(directory.node_of.remote(session_id), timeout=10)
    return node


def test_losing_a_node_mid_block_fails_its_sessions_and_spares_the_rest(
    server: LiveServer, ray_cluster: RayCluster
) -> None:
    ids = [post(server, "x = 1", "new").headers["x-codeloop-session"] for _ in range(2)]
    placed = {node_of(i): i for i in ids}
    assert set(placed) == ray_cluster.worker_ids
    victim = next(node for node in ray_cluster.workers if node.node_id in placed)
    doomed, survivor = placed[victim.node_id], next(i for n, i in placed.items() if n != victim.node_id)
    host = ray.get_actor(HOST_PREFIX + victim.node_id, namespace=NAMESPACE)
    host_pid: Any = ray.get(host.pid.remote(), timeout=10)
    tree = descendants(host_pid) | {host_pid}
    assert len(tree) >= 3  # the host, its zygote, the sessions' interpreters

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(post, server, "import time\ntime.sleep(50)", doomed)
        time.sleep(2)
        started = time.monotonic()
        ray_cluster.remove(victim)
        answer = running.result(timeout=60)
        took = time.monotonic() - started

    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["status"] == "UNAVAILABLE"
    assert "gone" in answer.json()["error"]["message"]
    assert took < 30  # the node's loss ends the request, not the block's own deadline
    lost = post(server, "print(x)", doomed)
    assert lost.status_code == 404
    assert "lost" in lost.json()["error"]["message"]
    assert post(server, "print(x)", doomed).status_code == 404  # forgotten, still not found

    kept = post(server, "print(x + 1)", survivor)
    assert kept.status_code == 200, kept.text
    fresh = post(server, "print('here')", "new")
    assert fresh.status_code == 200, fresh.text
    assert node_of(fresh.headers["x-codeloop-session"]) != victim.node_id
    # Nothing of the lost node lives on: its host, zygote and interpreters are all gone.
    assert wait_until(lambda: not any(alive(pid) for pid in tree), timeout=20)


def test_a_node_that_returns_takes_new_sessions(server: LiveServer, ray_cluster: RayCluster) -> None:
    returned = ray_cluster.add_sandbox_node()
    time.sleep(6)  # past the sandbox's rediscovery period
    ids = [post(server, "pass", "new").headers["x-codeloop-session"] for _ in range(4)]
    assert returned.node_id in {node_of(i) for i in ids}
