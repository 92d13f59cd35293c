"""A real multi-node Ray cluster on this machine: a head node and sandbox nodes, each a raylet of its own
with its own logical resources, so that placement is by the `codeloop_sandbox` resource, not by this
machine's CPU count. Small object stores, no dashboard.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray.cluster_utils import Cluster

from codeloop.cluster.host import RESOURCE
from codeloop.cluster.sandbox import HOST_PREFIX, NAMESPACE
from codeloop.cluster.serve import app_builder
from serve_process import free_port

OBJECT_STORE_BYTES = 80 * 1024**2
SESSIONS_PER_NODE = 4


@dataclass
class RayCluster:
    cluster: Any  # ray.cluster_utils.Cluster
    workers: list[Any]  # its sandbox nodes (ray._private.node.Node)

    @property
    def address(self) -> str:
        address: str = self.cluster.address
        return address

    @property
    def worker_ids(self) -> set[str]:
        return {node.node_id for node in self.workers}

    def add_sandbox_node(self) -> Any:
        node = self.cluster.add_node(
            num_cpus=0, resources={RESOURCE: SESSIONS_PER_NODE}, object_store_memory=OBJECT_STORE_BYTES
        )
        self.workers.append(node)
        self.cluster.wait_for_nodes()
        return node

    def remove(self, node: Any) -> None:
        self.workers.remove(node)
        self.cluster.remove_node(node, allow_graceful=False)


def start_cluster(sandbox_nodes: int = 2, attempts: int = 3) -> RayCluster:
    """A head node (no sandbox resource) and sandbox_nodes sandbox nodes, this process connected.

    Ray gives a raylet 30 s to register, which a busy machine can miss: tried again, afresh."""
    for attempt in range(1, attempts + 1):
        try:
            return _started_cluster(sandbox_nodes)
        except Exception:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _started_cluster(sandbox_nodes: int) -> RayCluster:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # A small, busy machine: Serve's proxy answers its readiness check slowly at first, and is not to
    # be killed and restarted for it (its processes inherit these from the raylets started here).
    os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "180")
    os.environ.setdefault("RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S", "180")
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 2,
            "object_store_memory": OBJECT_STORE_BYTES,
            "include_dashboard": False,
        },
    )
    nodes = RayCluster(cluster, [])
    try:
        for _ in range(sandbox_nodes):
            nodes.add_sandbox_node()
        ray.init(address=cluster.address, namespace=NAMESPACE, log_to_driver=False)
    except BaseException:
        cluster.shutdown()
        raise
    return nodes


def clear_cluster() -> None:
    """Close and remove every codeloop actor (the hosts, their sessions with them; the directory), and
    Serve's applications: the cluster as a fresh one, its nodes kept."""
    if "ray.serve" in sys.modules:
        from ray import serve

        with contextlib.suppress(Exception):
            serve.shutdown()
    for found in ray.util.list_named_actors(all_namespaces=True):
        if found["namespace"] != NAMESPACE:
            continue
        try:
            actor = ray.get_actor(found["name"], namespace=NAMESPACE)
        except ValueError:
            continue
        if found["name"].startswith(HOST_PREFIX):
            with contextlib.suppress(Exception):
                ray.get(actor.close.remote(), timeout=30)
        ray.kill(actor, no_restart=True)


def stop_cluster(nodes: RayCluster) -> None:
    ray.shutdown()
    nodes.cluster.shutdown()


@contextlib.contextmanager
def serve_app(options: dict[str, Any], data_dir: Path) -> Iterator[str]:
    """codeloop's Serve app (two replicas of half a CPU, no spare sessions, `options` on top), its
    proxy on a free loopback port of the head: yields the proxy's URL; shut down after."""
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port}, proxy_location="HeadOnly")
    defaults = {"preload": "", "spare_sessions": 0, "min_replicas": 2, "max_replicas": 2, "num_cpus": 0.5}
    app = app_builder({**defaults, "data_dir": str(data_dir), **options})
    serve.run(app, name="codeloop", route_prefix="/")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
