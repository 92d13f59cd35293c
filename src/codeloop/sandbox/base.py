"""The sandbox seam: a Sandbox opens Sessions; a Session runs blocks of Python, keeping state between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from codeloop.execution import Execution
from codeloop.sandbox.output import Listener


@dataclass(frozen=True)
class SessionCounts:
    """A sandbox's sessions at one moment, as /metrics reports them."""

    open: int  # opened and not yet closed
    spare: int = 0  # interpreters started ahead of demand
    max_live: int | None = None  # live interpreters before the least recently used idle one is reset


@dataclass(frozen=True)
class SessionMemory:
    """One live session's memory: its cgroup's usage where it has one, else its interpreter's RSS."""

    session: int  # the sandbox's own number for the session, never a kept session's id
    bytes: int
    node: str = ""  # on a cluster, the node it lives on: numbers are each node's own


class Session(Protocol):
    """One persistent interpreter: variables and files survive from one block to the next."""

    async def run(
        self, code: str, timeout_s: float | None = None, on_output: Listener | None = None
    ) -> Execution:
        """Run one block. User failures are outcomes; only a broken sandbox raises SandboxFailure.

        `on_output` is told the block's stdout and stderr, as bytes in the order printed, as they
        arrive; together no more than the output limit keeps."""
        ...

    async def put_file(self, name: str, data: bytes) -> None:
        """Write a file into the working dir (a plain name, no dirs) for blocks to read."""
        ...

    async def close(self) -> None:
        """End the session: every process it started is gone and its working dir removed."""
        ...


class Sandbox(Protocol):
    async def open_session(self) -> Session: ...

    @property
    def session_counts(self) -> SessionCounts: ...

    def session_memory(self) -> tuple[SessionMemory, ...]:
        """Each live session's memory, read now; cheap enough for every scrape."""
        ...

    async def close(self) -> None:
        """Close every session still open."""
        ...
