"""The Ray-backed sandbox on a real two-node cluster: placement by node id, state, isolation, limits."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from cluster_nodes import SESSIONS_PER_NODE, RayCluster

from codeloop.cluster.sandbox import RaySandbox, RaySession
from codeloop.errors import QuotaExceeded
from codeloop.execution import Outcome
from codeloop.sandbox.limits import Limits, SandboxConfig

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
CONFIG = SandboxConfig(preload=(), spare_sessions=0)


def sandbox_on(cluster: RayCluster, timeout_s: float = 10.0) -> RaySandbox:
    return RaySandbox(Limits(timeout_s=timeout_s), CONFIG, cluster.address)


def test_sessions_spread_over_the_sandbox_nodes_and_keep_their_state(ray_cluster: RayCluster) -> None:
    async def scenario() -> tuple[list[str], list[str], list[str]]:
        sandbox = sandbox_on(ray_cluster)
        await sandbox.start()
        try:
            sessions = [await sandbox.open_session() for _ in range(4)]
            for index, session in enumerate(sessions):
                assert (await session.run(f"x = {index}")).ok
            outputs = [(await s.run("print(x)")).output for s in sessions]
            return sandbox.node_ids, [s.node_id for s in sessions], outputs
        finally:
            await sandbox.close()

    known, placed, outputs = asyncio.run(scenario())
    assert set(known) == ray_cluster.worker_ids  # the head node offers no sandbox resource
    assert Counter(placed) == {node: 2 for node in ray_cluster.worker_ids}
    assert outputs == ["0\n", "1\n", "2\n", "3\n"]


def test_a_session_on_a_node_is_as_isolated_and_limited_as_on_one_machine(ray_cluster: RayCluster) -> None:
    probe = (
        "import os, socket\n"
        "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
        f"print(os.getppid(), pids, os.path.exists({str(REPO / 'pyproject.toml')!r}))\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
        "except OSError:\n    print('offline')\n"
    )

    async def scenario() -> tuple[str, Outcome, Outcome, str]:
        sandbox = sandbox_on(ray_cluster, timeout_s=1.0)
        await sandbox.start()
        try:
            session = await sandbox.open_session()
            isolated = await session.run(probe)
            stuck = await session.run("while True: pass")
            failed = await session.run("1 / 0")
            after = await session.run("print('fresh')")
            return isolated.output, stuck.outcome, failed.outcome, after.output
        finally:
            await sandbox.close()

    isolated, stuck, failed, after = asyncio.run(scenario())
    assert isolated == "0 [1] False\noffline\n"  # its own pid namespace, no host files, no network
    assert stuck == Outcome.OUTCOME_DEADLINE_EXCEEDED
    assert failed == Outcome.OUTCOME_FAILED
    assert after.endswith("fresh\n")


def test_files_staged_into_a_session_reach_the_node_that_runs_it(ray_cluster: RayCluster) -> None:
    async def scenario() -> str:
        sandbox = sandbox_on(ray_cluster)
        await sandbox.start()
        try:
            session = await sandbox.open_session()
            await session.put_file("data.csv", b"a,b\n1,2\n")
            return (await session.run("print(open('data.csv').read().split()[1])")).output
        finally:
            await sandbox.close()

    assert asyncio.run(scenario()) == "1,2\n"


def test_a_full_cluster_refuses_a_session_and_frees_room_when_one_closes(ray_cluster: RayCluster) -> None:
    async def scenario() -> str:
        sandbox = sandbox_on(ray_cluster)
        await sandbox.start()
        try:
            room = SESSIONS_PER_NODE * len(ray_cluster.workers)
            sessions: list[RaySession] = [await sandbox.open_session() for _ in range(room)]
            with pytest.raises(QuotaExceeded):
                await sandbox.open_session()
            await sessions[0].close()
            again = await sandbox.open_session()
            return again.node_id
        finally:
            await sandbox.close()

    assert asyncio.run(scenario()) in ray_cluster.worker_ids
