"""A real multi-node Ray cluster on this machine, one per test module: a head node and two sandbox nodes.

Each node is a raylet of its own, with its own logical resources: placement is by the
`codeloop_sandbox` resource, not by this machine's CPU count. Small object stores, no dashboard.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from codeloop.cluster.host import RESOURCE  # noqa: E402
from codeloop.cluster.sandbox import NAMESPACE  # noqa: E402

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


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
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
        for _ in range(2):
            nodes.add_sandbox_node()
        ray.init(address=cluster.address, namespace=NAMESPACE, log_to_driver=False)
        yield nodes
    finally:
        ray.shutdown()
        cluster.shutdown()
