"""codeloop serve --ray: kept sessions live on the cluster's nodes and continue through any server."""

from __future__ import annotations

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

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

GENERATE = "/v1beta/models/scripted:generateContent"
KEYS = ("key-a", "key-b")


def block(code: str) -> dict:
    return {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": f"```python\n{code}\n```"}}}


def result(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    parts = response.json()["candidates"][0]["content"]["parts"]
    found: dict = next(p["codeExecutionResult"] for p in parts if "codeExecutionResult" in p)
    return found


def settings_for(cluster: RayCluster) -> Settings:
    return Settings(
        model="scripted",
        ray=cluster.address,
        preload="",
        spare_sessions=0,
        api_keys=",".join(KEYS),
        max_kept_sessions=6,
        max_kept_sessions_per_key=2,
    )


@pytest.fixture(scope="module")
def servers(ray_cluster: RayCluster) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two servers connected to one cluster, as two replicas are."""
    with serving(settings_for(ray_cluster)) as first, serving(settings_for(ray_cluster)) as second:
        yield first, second


def post(server: LiveServer, code: str, key: str, session: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        return http.post(
            GENERATE, json=block(code), headers={"x-goog-api-key": key, "x-codeloop-session": session}
        )


def node_of(session_id: str) -> str | None:
    directory = ray.get_actor(NAME, namespace=NAMESPACE)
    node: Any = ray.get(directory.node_of.remote(session_id), timeout=10)
    return node


def test_a_kept_session_continues_through_another_server(
    servers: tuple[LiveServer, LiveServer], ray_cluster: RayCluster
) -> None:
    first, second = servers
    opened = post(first, "x = 41\nopen('notes.txt', 'w').write('kept')", KEYS[0], "new")
    session_id = opened.headers["x-codeloop-session"]
    assert result(opened)["outcome"] == "OUTCOME_OK"
    assert node_of(session_id) in ray_cluster.worker_ids
    continued = post(second, "print(x + 1, open('notes.txt').read())", KEYS[0], session_id)
    assert result(continued)["output"] == "42 kept\n"
    back = post(first, "print(x)", KEYS[0], session_id)
    assert result(back)["output"] == "41\n"


def test_a_keys_session_quota_holds_across_servers(
    servers: tuple[LiveServer, LiveServer], ray_cluster: RayCluster
) -> None:
    first, second = servers
    ids = [post(server, "pass", KEYS[1], "new").headers["x-codeloop-session"] for server in (first, second)]
    assert {node_of(i) for i in ids} <= ray_cluster.worker_ids
    # The key's quota holds across servers: two kept already, a third is refused by either.
    refused = post(second, "pass", KEYS[1], "new")
    assert refused.status_code == 429
    assert refused.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_another_key_never_finds_a_session_through_any_server(servers: tuple[LiveServer, LiveServer]) -> None:
    first, second = servers
    opened = post(first, "secret = 'a-only'", KEYS[0], "new")
    session_id = opened.headers["x-codeloop-session"]
    for server in (first, second):
        stolen = post(server, "print(secret)", KEYS[1], session_id)
        assert stolen.status_code == 404
        assert stolen.json()["error"]["status"] == "NOT_FOUND"
        assert "a-only" not in stolen.text
    assert result(post(second, "print(secret)", KEYS[0], session_id))["output"] == "a-only\n"


def test_an_idle_kept_session_expires_for_every_server_and_its_node_closes_it(
    ray_cluster: RayCluster,
) -> None:
    settings = Settings(
        model="scripted", ray=ray_cluster.address, preload="", spare_sessions=0, session_idle_timeout=1
    )
    with serving(settings) as first, serving(settings) as second:
        with httpx.Client(base_url=first.url, timeout=60) as http:
            opened = http.post(GENERATE, json=block("x = 1"), headers={"x-codeloop-session": "new"})
        session_id = opened.headers["x-codeloop-session"]
        node = node_of(session_id)
        assert node in ray_cluster.worker_ids
        host = ray.get_actor(HOST_PREFIX + node, namespace=NAMESPACE)
        held: Any = ray.get(host.numbers.remote(), timeout=10)
        time.sleep(2)
        with httpx.Client(base_url=second.url, timeout=60) as http:
            expired = http.post(GENERATE, json=block("print(x)"), headers={"x-codeloop-session": session_id})
        assert expired.status_code == 404
        assert node_of(session_id) is None
        assert wait_until(lambda: len(ray.get(host.numbers.remote(), timeout=10)) < len(held))
