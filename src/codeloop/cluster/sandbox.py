"""RaySandbox: a Sandbox whose sessions live on the nodes of a Ray cluster, one SandboxHost actor per node.

Sessions go to the sandbox node with the most room (open sessions over its `codeloop_sandbox`
resources). A RaySession is a handle to the host that owns it: every block runs where its interpreter
lives. Hosts are named, detached actors, one per node, so that every server (every Serve replica)
connected to the cluster shares them and can continue a session another one opened.

Each server holds a lease with every host, renewed every lease_s/3: a host closes the sessions of a
server that stopped renewing (killed mid-request, say), and answers each renewal with its sessions'
memory, which /metrics shows.

Every call to a host has a deadline: a host that does not answer, or a node that is gone, ends the
call with SessionLost (503 UNAVAILABLE), never a hang; a session whose node is gone stays lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import threading
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import ray
from ray.exceptions import RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from codeloop.cluster.host import LEASE_S, RESOURCE, SandboxHost
from codeloop.errors import CodeloopError, QuotaExceeded, SandboxFailure, SessionLost
from codeloop.execution import Execution
from codeloop.sandbox.base import SessionCounts, SessionMemory
from codeloop.sandbox.limits import Limits, SandboxConfig
from codeloop.sandbox.output import Listener

__all__ = ["NAMESPACE", "RaySandbox", "RaySession", "SessionRef", "call_actor", "start_ray_sandbox"]

log = logging.getLogger("codeloop.cluster")
T = TypeVar("T")

NAMESPACE = "codeloop"  # where the hosts and the session directory are named
HOST_PREFIX = "codeloop-sandbox-host-"
CONTROL_TIMEOUT_S = 10.0  # a host's answer to anything but a block: open, close, load, staging
START_TIMEOUT_S = 120.0  # a host's first start: its worker process, the zygote's preload
RUN_MARGIN_S = 30.0  # over a block's own deadline: an interpreter to restart, the hop there and back
REDISCOVER_S = 5.0  # how old the list of sandbox nodes may be when a session opens
MAX_CONCURRENT_CALLS = 1000  # an async host serves this many calls at once (blocks of many sessions)

_Host = Any  # a Ray ActorHandle of SandboxHost: ray's handles are untyped


@dataclass(frozen=True)
class SessionRef:
    """Where a session lives, in terms any server connected to the cluster understands."""

    host: str  # the host actor's name
    number: int  # the host's own number for the session
    node_id: str


@dataclass
class _Node:
    node_id: str
    host: _Host
    name: str
    lost: bool = False


@dataclass
class RaySandbox:
    """A Sandbox over the cluster's sandbox nodes. start() connects (unless ray is connected already)."""

    limits: Limits
    config: SandboxConfig
    address: str = "auto"
    lease_s: float = LEASE_S
    server_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # whose lease its sessions live on
    _nodes: dict[str, _Node] = field(default_factory=dict)
    _memory: dict[str, tuple[SessionMemory, ...]] = field(default_factory=dict)  # by node, as last renewed
    _renewing: asyncio.Task[None] | None = None
    _open: set[RaySession] = field(default_factory=set)
    _discovered_at: float = float("-inf")
    _closed: bool = False

    async def start(self) -> None:
        if not ray.is_initialized():
            # Serve replicas are connected already; `codeloop serve --ray ADDRESS` connects here.
            _connect(self.address)
        await self._discover()
        if not self._nodes:
            raise SandboxFailure(
                f"no node of the Ray cluster at {self.address} offers the {RESOURCE} resource: start "
                f"sandbox nodes with `ray start --resources='{{\"{RESOURCE}\": N}}'` (N sessions each)"
            )
        self._renewing = asyncio.create_task(self._renew_forever())

    @property
    def node_ids(self) -> list[str]:
        """The sandbox nodes this server knows to be alive."""
        return sorted(node.node_id for node in self._nodes.values() if not node.lost)

    async def open_session(self) -> RaySession:
        """A session on the node with the most room; QuotaExceeded when every node is full."""
        if self._closed:
            raise SandboxFailure("the sandbox is closed")
        if time.monotonic() - self._discovered_at > REDISCOVER_S:
            await self._discover()
        for node in await self._by_room():
            try:
                number = await call_actor(node.host.open_session.remote(self.server_id), CONTROL_TIMEOUT_S)
            except QuotaExceeded:
                continue  # filled up since its load was read
            except SessionLost:
                node.lost = True
                continue
            session = RaySession(self, SessionRef(node.name, number, node.node_id), node)
            self._open.add(session)
            return session
        raise QuotaExceeded(f"all {len(self.node_ids)} sandbox nodes hold as many sessions as they may")

    async def session_for(self, ref: SessionRef) -> RaySession:
        """A handle to a session another server opened (a kept session continued through this one)."""
        node = self._nodes.get(ref.node_id)
        if node is None or node.name != ref.host:
            try:
                host = await asyncio.to_thread(ray.get_actor, ref.host, namespace=NAMESPACE)
            except ValueError:  # no such actor: its node is gone
                host = None
            node = _Node(ref.node_id, host, ref.host, lost=host is None)
        return RaySession(self, ref, node)

    @property
    def session_counts(self) -> SessionCounts:
        return SessionCounts(len(self._open))

    def session_memory(self) -> tuple[SessionMemory, ...]:
        """Every session's memory on the sandbox nodes (all servers' sessions), as the hosts last told
        it: at most lease_s/3 old. Each named by its node and its number there."""
        return tuple(used for node in sorted(self._memory) for used in self._memory[node])

    async def renew(self) -> None:
        """Renew this server's lease with every host; keep what each says of its sessions' memory."""
        nodes = [node for node in self._nodes.values() if not node.lost]
        answers = await asyncio.gather(
            *(call_actor(node.host.renew.remote(self.server_id), CONTROL_TIMEOUT_S) for node in nodes),
            return_exceptions=True,
        )
        self._memory = {
            node.node_id: tuple(dataclasses.replace(used, node=node.node_id[:12]) for used in answer)
            for node, answer in zip(nodes, answers, strict=True)
            if isinstance(answer, tuple)
        }

    async def _renew_forever(self) -> None:
        while True:
            try:
                await self.renew()
            except Exception:
                log.exception("cluster: renewing this server's lease")
            await asyncio.sleep(self.lease_s / 3)

    async def close(self) -> None:
        """Close the sessions this server opened and still holds; the hosts stay for the cluster."""
        self._closed = True
        if self._renewing is not None:
            self._renewing.cancel()
        open_sessions, self._open = list(self._open), set()
        await asyncio.gather(*(s.close() for s in open_sessions), return_exceptions=True)

    def _forget(self, session: RaySession) -> None:
        self._open.discard(session)

    async def _discover(self) -> None:
        """Start (or find) a host on every alive node that offers the resource; drop gone nodes."""
        nodes = await asyncio.to_thread(ray.nodes)
        alive = {
            n["NodeID"]: int(n["Resources"][RESOURCE])
            for n in nodes
            if n.get("Alive") and n.get("Resources", {}).get(RESOURCE, 0) >= 1
        }
        for node_id in list(self._nodes):
            if node_id not in alive or self._nodes[node_id].lost:
                del self._nodes[node_id]
        new = [node_id for node_id in alive if node_id not in self._nodes]
        started = await asyncio.gather(
            *(self._start_host(node_id, alive[node_id]) for node_id in new), return_exceptions=True
        )
        for node_id, outcome in zip(new, started, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("cluster: no sandbox host on node %s: %s", node_id, outcome)
                if isinstance(outcome, SandboxFailure) and not self._nodes and node_id == new[-1]:
                    raise outcome
            else:
                self._nodes[node_id] = outcome
        self._discovered_at = time.monotonic()

    async def _start_host(self, node_id: str, capacity: int) -> _Node:
        """The node's host, started by the first server to ask (its lease_s is the host's)."""
        name = HOST_PREFIX + node_id
        host: _Host = (
            ray.remote(SandboxHost)
            .options(
                name=name,
                namespace=NAMESPACE,
                get_if_exists=True,
                lifetime="detached",
                num_cpus=0,
                max_concurrency=MAX_CONCURRENT_CALLS,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            )
            .remote(self.limits, self.config, capacity, self.lease_s)
        )
        await call_actor(host.start.remote(), START_TIMEOUT_S)
        return _Node(node_id, host, name)

    async def _by_room(self) -> list[_Node]:
        """The live nodes with room, the emptiest (by share of capacity) first."""
        nodes = [node for node in self._nodes.values() if not node.lost]
        loads = await asyncio.gather(
            *(call_actor(node.host.load.remote(), CONTROL_TIMEOUT_S) for node in nodes),
            return_exceptions=True,
        )
        room = []
        for node, load in zip(nodes, loads, strict=True):
            if isinstance(load, SessionLost):
                node.lost = True
            elif isinstance(load, tuple) and load[0] < load[1]:
                room.append((load[0] / load[1], node))
        return [node for _, node in sorted(room, key=lambda pair: pair[0])]


async def start_ray_sandbox(
    limits: Limits, config: SandboxConfig, address: str, lease_s: float = LEASE_S
) -> RaySandbox:
    """A RaySandbox connected to the cluster at address, its sandbox nodes' hosts started; SandboxFailure
    (saying what to do) where the cluster has none."""
    sandbox = RaySandbox(limits, config, address, lease_s)
    try:
        await sandbox.start()
    except BaseException:
        await sandbox.close()
        raise
    return sandbox


class RaySession:
    """A session on one node's host. A lost node makes every later call a SessionLost, at once."""

    def __init__(self, sandbox: RaySandbox, ref: SessionRef, node: _Node) -> None:
        self._sandbox = sandbox
        self.ref = ref
        self._node = node
        self._closed = False

    @property
    def node_id(self) -> str:
        return self.ref.node_id

    async def run(
        self, code: str, timeout_s: float | None = None, on_output: Listener | None = None
    ) -> Execution:
        """The block runs on the session's node; its output is not streamed across the cluster, so
        `on_output` is not told anything and the result carries the whole output."""
        deadline = (self._sandbox.limits.timeout_s if timeout_s is None else timeout_s) + RUN_MARGIN_S
        execution: Execution = await self._call(
            lambda host: host.run.remote(self.ref.number, code, timeout_s), deadline
        )
        return execution

    async def put_file(self, name: str, data: bytes) -> None:
        await self._call(lambda host: host.put_file.remote(self.ref.number, name, data), CONTROL_TIMEOUT_S)

    async def lost(self) -> bool:
        """Whether the session is gone with its node (asks the node: one round trip)."""
        try:
            present: bool = await self._call(
                lambda host: host.has_session.remote(self.ref.number), CONTROL_TIMEOUT_S
            )
        except SessionLost:
            return True
        return not present

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._sandbox._forget(self)
        if not self._node.lost:
            try:
                await self._call(lambda host: host.close_session.remote(self.ref.number), CONTROL_TIMEOUT_S)
            except CodeloopError as exc:
                log.debug("cluster: closing session %s: %s", self.ref, exc)

    def keep(self) -> None:
        """Hand the session over to the cluster (a kept session): closing this server, or its lease
        running out, leaves it open."""
        self._sandbox._forget(self)
        if not self._node.lost and self._node.host is not None:
            # Ordered after the open that made it: nothing to wait for.
            self._node.host.keep.remote(self.ref.number)

    async def _call(self, send: Any, timeout_s: float) -> Any:
        if self._node.lost or self._node.host is None:
            raise SessionLost(_LOST.format(node=self.ref.node_id))
        try:
            return await call_actor(send(self._node.host), timeout_s)
        except SessionLost as exc:
            self._node.lost = True
            raise SessionLost(f"{_LOST.format(node=self.ref.node_id)} ({exc.message})") from None


def _connect(address: str) -> None:
    """ray.init, keeping this process's SIGTERM handler: ray's would exit at once, where the server
    (uvicorn) shuts down in order, closing its sessions."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
    if main:
        signal.signal(signal.SIGTERM, previous)


_LOST = "the sandbox node {node} that held this session is gone or unreachable, and the session with it"


async def call_actor(ref: Awaitable[T], timeout_s: float) -> T:
    """A host's answer within timeout_s; its own errors as they were raised, its loss as SessionLost."""
    try:
        return await asyncio.wait_for(_awaited(ref), timeout_s)
    except TimeoutError:
        with contextlib.suppress(Exception):
            ray.cancel(ref)
        raise SessionLost(f"a sandbox node did not answer within {timeout_s:g} s") from None
    except RayTaskError as exc:
        cause = exc.cause
        if isinstance(cause, CodeloopError):
            raise cause from None
        raise SandboxFailure(f"the sandbox node failed: {type(cause).__name__}") from None
    except RayError as exc:
        raise SessionLost(f"a sandbox node is unreachable: {type(exc).__name__}") from None


async def _awaited(ref: Awaitable[T]) -> T:
    return await ref
