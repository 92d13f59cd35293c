"""One real multi-node Ray cluster per test module (cluster_nodes.py): a head node and two sandbox nodes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("ray")

from cluster_nodes import RayCluster, start_cluster, stop_cluster

# A module whose cluster did not start fails its other tests at once, rather than starting it again.
_NOT_STARTED: dict[str, str] = {}


@pytest.fixture(scope="module")
def ray_cluster(request: pytest.FixtureRequest) -> Iterator[RayCluster]:
    module = request.module.__name__
    if module in _NOT_STARTED:
        pytest.fail(f"this module's Ray cluster did not start: {_NOT_STARTED[module]}")
    try:
        nodes = start_cluster()
    except Exception as exc:
        _NOT_STARTED[module] = str(exc)
        raise
    try:
        yield nodes
    finally:
        stop_cluster(nodes)
