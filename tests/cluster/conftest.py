"""One real multi-node Ray cluster for the whole test session (cluster_nodes.py): a head node and two
sandbox nodes, started once. Each module starts from a clean cluster all the same: after it, every
host (and its sessions) and the session directory are closed and removed, so the next module's first
server starts them afresh with its own settings, and no quota or room is left taken."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("ray")

from cluster_nodes import RayCluster, clear_cluster, start_cluster, stop_cluster

_NOT_STARTED: list[str] = []  # a cluster that did not start fails the other tests at once


@pytest.fixture(scope="session")
def shared_cluster() -> Iterator[RayCluster]:
    if _NOT_STARTED:
        pytest.fail(f"the Ray cluster did not start: {_NOT_STARTED[0]}")
    try:
        nodes = start_cluster()
    except Exception as exc:
        _NOT_STARTED.append(str(exc))
        raise
    try:
        yield nodes
    finally:
        stop_cluster(nodes)


@pytest.fixture(scope="module")
def ray_cluster(shared_cluster: RayCluster) -> Iterator[RayCluster]:
    """The session's cluster, as clean as new for this module, with two sandbox nodes."""
    while len(shared_cluster.workers) < 2:
        shared_cluster.add_sandbox_node()
    try:
        yield shared_cluster
    finally:
        clear_cluster()
