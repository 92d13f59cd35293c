"""One session of either kind of sandbox: a persistent interpreter, restarted when it is lost, with a note."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from codeloop.errors import SandboxFailure
from codeloop.execution import Execution
from codeloop.sandbox.blocks import put_file
from codeloop.sandbox.handle import ProcessHandle
from codeloop.sandbox.output import Listener

if TYPE_CHECKING:
    from codeloop.sandbox.shell import ShellSandbox

__all__ = ["ShellSession"]


class ShellSession:
    """A Session: after a timeout, a crash, an eviction or a loss the next block gets a fresh interpreter,
    and, unless the block that ended the old one already said so, its output starts with a note."""

    def __init__(self, sandbox: ShellSandbox, number: int) -> None:
        self._sandbox = sandbox
        self.number = number
        self.workdir: Path | None = None  # on the host, where the kind keeps one (not in namespaces)
        self._handle: ProcessHandle | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._note = ""
        self.started = False  # an interpreter ran here once: a spare's fresh dir would not be ours
        self.running = False
        self.last_used = time.monotonic()

    @property
    def pid(self) -> int | None:
        """The interpreter's pid as the host sees it, if one is running."""
        handle = self._handle
        return handle.pid if handle is not None and handle.usable else None

    @property
    def live(self) -> bool:
        return self._handle is not None and self._handle.usable

    @property
    def handle(self) -> ProcessHandle | None:
        return self._handle

    async def start(self) -> None:
        async with self._lock:
            await self._ensure()

    async def run(
        self, code: str, timeout_s: float | None = None, on_output: Listener | None = None
    ) -> Execution:
        limits = self._sandbox.limits
        timeout = limits.timeout_s if timeout_s is None else timeout_s
        async with self._lock:
            handle = await self._ensure()
            self.running = True
            try:
                execution = await handle.run(code, timeout, limits.output_bytes, on_output)
            finally:
                self.running = False
                self.last_used = time.monotonic()
            if self._closed:
                raise SandboxFailure("the session was closed while running the block")
            note, self._note = self._note, ""
        if self._sandbox.memory_may_pass_budget():
            # Shielded: a request cancelled now must not leave another session half reset, its fds open.
            await asyncio.shield(self._sandbox.fit_memory(self))
        return dataclasses.replace(execution, output=note + execution.output) if note else execution

    async def put_file(self, name: str, data: bytes) -> None:
        """Stage an input file in the working dir under its name, for the next block to read."""
        async with self._lock:
            await put_file(await self._ensure(), name, data)

    async def reset(self, reason: str) -> None:
        """Drop the interpreter (and its state) to free its resources; the next block starts afresh."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._note = f"[{reason}; the interpreter was restarted and its state lost]\n"
            await handle.kill()

    async def _ensure(self) -> ProcessHandle:
        if self._closed:
            raise SandboxFailure("the session is closed")
        handle = self._handle
        if handle is not None and (not handle.usable or handle.hung_up()):
            self._handle = None
            if handle.killed:  # by us: a deadline or a crash mid-block, whose output said so
                await handle.kill()
            else:
                how = await handle.post_mortem()
                self._note = f"[between blocks the interpreter {how}; it was restarted and its state lost]\n"
        if self._handle is None:
            handle = await self._sandbox._spawn(self)
            if self._closed:  # close() ran while it started
                await handle.kill()
                raise SandboxFailure("the session is closed")
            self._handle = handle
            self.started = True
            self.last_used = time.monotonic()
        return self._handle

    async def close(self) -> None:
        """Kill every process of the session, remove its dir. Idempotent; doesn't wait for run().

        Everything that matters happens before the first await: a request that is being cancelled
        (its client went away) may be cancelled again at every await, and must still not leak."""
        if self._closed:
            return
        self._closed = True
        self._sandbox._forget(self)
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.abandon()
        if self.workdir is not None:
            self._sandbox.launcher.remove_workdir(self.workdir)
        if handle is not None:
            await handle.wait_exited(handle.lifeline.grace_s)
