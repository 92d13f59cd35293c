"""The sandbox seam: a Sandbox opens Sessions; a Session runs blocks of Python, keeping state between them."""

from __future__ import annotations

from typing import Protocol

from codeloop.sandbox.execution import Execution


class Session(Protocol):
    """One persistent interpreter: variables and files survive from one block to the next."""

    async def run(self, code: str, timeout_s: float | None = None) -> Execution:
        """Run one block. User failures are outcomes; only a broken sandbox raises SandboxFailure."""
        ...

    async def put_file(self, name: str, data: bytes) -> None:
        """Write a file into the working dir (a plain name, no dirs) for blocks to read."""
        ...

    async def close(self) -> None:
        """End the session: every process it started is gone and its working dir removed."""
        ...


class Sandbox(Protocol):
    async def open_session(self) -> Session: ...

    async def close(self) -> None:
        """Close every session still open."""
        ...
