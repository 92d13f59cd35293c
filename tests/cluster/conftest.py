"""One real multi-node Ray cluster per test module (cluster_nodes.py): a head node and two sandbox nodes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("ray")

from cluster_nodes import RayCluster, start_cluster, stop_cluster


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    nodes = start_cluster()
    try:
        yield nodes
    finally:
        stop_cluster(nodes)
