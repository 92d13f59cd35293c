"""One interpreter process as the server drives it, however it was started: its control socket,
its output pipe, and a lifeline that knows when and how it ended and can kill it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
from dataclasses import dataclass
from typing import Any, Protocol

from codeloop.errors import SandboxFailure
from codeloop.execution import Execution
from codeloop.sandbox.blocks import run_block
from codeloop.sandbox.output import Listener, Output, signal_name
from codeloop.sandbox.protocol import ProtocolError, read_message_async

__all__ = ["Exit", "IsolationRefused", "Lifeline", "ProcessHandle"]

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# What the kernel reports on a socket whose peer is gone; between blocks an interpreter sends nothing.
# How long a dead interpreter's last reply gets to arrive before its channel is closed.
_LAST_REPLY_S = 0.5
_GONE = select.POLLIN | select.POLLHUP | select.POLLERR | getattr(select, "POLLRDHUP", 0)


@dataclass(frozen=True)
class Exit:
    """How an interpreter process ended, as far as its lifeline could tell."""

    code: int = 0
    signal: int | None = None
    oom: bool = False  # the cgroup's OOM killer struck

    def describe(self, memory_mib: int) -> str:
        if self.oom:
            return f"ran out of memory (the limit is {memory_mib} MiB) and was killed"
        if self.signal is not None:
            return f"was killed by signal {signal_name(self.signal)}"
        return f"exited with code {self.code}"


class Lifeline(Protocol):
    """What watches one interpreter from outside: the child process itself, or its keeper."""

    grace_s: float  # how long a process that broke its channel gets to report how it ended
    exited: asyncio.Future[Exit | None]  # None: it ended, but how is not known

    def kill(self) -> None:
        """SIGKILL the interpreter and everything it started; returns at once."""

    def hang_up(self) -> None:
        """Let go of it for good: fds closed, nothing more will be asked."""

    async def cause(self) -> str | None:
        """What it died with, where something beyond it is to blame ("the sandbox's zygote, which ...")."""


class IsolationRefused(SandboxFailure):
    """The interpreter could not isolate itself: no sandbox can be had on this host as it is."""


class ProcessHandle:
    """The server's end of one interpreter process; blocks.run_block and blocks.put_file drive it."""

    def __init__(
        self,
        pid: int,
        ctrl: Streams,
        output: Output,
        lifeline: Lifeline,
        memory_mib: int,
        memory_file: str | None = None,
        memory_limit_bytes: int | None = None,
    ) -> None:
        self.pid = pid
        self._reader, self._writer = ctrl
        self.output = output
        self.lifeline = lifeline
        self._memory_mib = memory_mib
        self._memory_file = memory_file  # the cgroup's usage, where the interpreter has one
        # The most memory_bytes() can ever say: the cgroup's limit, where a cgroup counts its memory.
        self.memory_limit_bytes = memory_limit_bytes if memory_file is not None else None
        self.killed = False
        lifeline.exited.add_done_callback(self._on_exited)

    def _on_exited(self, _: object) -> None:
        """Once it is dead, a reply it wrote has a moment to arrive; then its channel ends, so that a read
        waiting on it ends too, even where a fork of user code still holds the socket open."""
        asyncio.get_running_loop().call_later(_LAST_REPLY_S, self._writer.transport.abort)

    @property
    def usable(self) -> bool:
        return not self.killed and not self.lifeline.exited.done()

    def hung_up(self) -> bool:
        """Whether it died (or wrote out of turn) since its last reply: a cheap check between blocks."""
        sock = self._writer.get_extra_info("socket")
        if sock is None or self._writer.is_closing():
            return True
        poller = select.poll()
        poller.register(sock.fileno(), _GONE)
        return bool(poller.poll(0))

    async def greet(self, timeout_s: float) -> None:
        """Wait for the interpreter's ready message; a SandboxFailure saying why it never came."""
        try:
            async with asyncio.timeout(timeout_s):
                hello = await read_message_async(self._reader)
            if hello is not None and hello.get("type") == "error":
                await self.kill()
                raise IsolationRefused(f"cannot isolate the session: {hello.get('message')}")
            if hello is None or hello.get("type") != "ready":
                raise ProtocolError(f"expected a ready message, got {hello!r}")
        except TimeoutError as exc:
            await self.kill()
            raise SandboxFailure(f"the interpreter was not ready within {timeout_s:g} s") from exc
        except (ProtocolError, OSError) as exc:
            how = await self.post_mortem(exc)
            printed = self.output.text().strip()
            detail = f"; it printed: {printed}" if printed else ""
            raise SandboxFailure(f"the interpreter {how} before it was ready{detail}") from exc
        except BaseException:
            self.abandon()
            raise
        self.output.stop()

    async def run(
        self, code: str, timeout_s: float, output_bytes: int, on_output: Listener | None = None
    ) -> Execution:
        return await run_block(self, code, timeout_s, output_bytes, on_output)

    async def request(self, frame: bytes, kind: str) -> dict[str, Any]:
        """Send one request; its reply, or ProtocolError if the interpreter dies or garbles it first."""
        self._writer.write(frame)
        await self._writer.drain()
        reply = await read_message_async(self._reader)  # ends when it dies: see _on_exited
        if reply is None:
            raise ProtocolError("the interpreter closed the channel")
        if reply.get("type") != kind:
            raise ProtocolError(f"expected a {kind} message, got type {reply.get('type')!r}")
        return reply

    async def post_mortem(self, exc: Exception | None = None) -> str:
        """Make sure it is dead; say how it died ("exited with code 3", "ran out of memory ...")."""
        exited = self.lifeline.exited
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.lifeline.grace_s):
                await asyncio.shield(exited)
        alive = not exited.done()
        await self.kill()
        ended = None if alive or exited.cancelled() else exited.result()
        if ended is not None:
            return ended.describe(self._memory_mib)
        if not alive and (cause := await self.lifeline.cause()):
            return f"died with {cause}"
        return f"broke its control channel ({exc})" if exc is not None else "broke its control channel"

    async def kill(self) -> None:
        """Idempotent: SIGKILL it and all it started, give it a moment to be reaped, close the fds."""
        self.killed = True
        self.lifeline.kill()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.lifeline.grace_s):
                await asyncio.shield(self.lifeline.exited)
        self._close()

    def abandon(self) -> None:
        """kill() for when awaiting is not possible; the lifeline sees to the rest."""
        self.killed = True
        self.lifeline.kill()
        self._close()

    async def wait_exited(self, within_s: float) -> None:
        """Wait (up to within_s, cancellation-safe) for the lifeline to see it gone."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                await asyncio.shield(self.lifeline.exited)

    def memory_bytes(self) -> int | None:
        """Memory in use now: the cgroup's count where there is one, else the interpreter's RSS."""
        try:
            if self._memory_file is not None:
                return int(_read_small(self._memory_file))
            resident_pages = int(_read_small(f"/proc/{self.pid}/statm").split()[1])
        except (OSError, ValueError, IndexError):
            return None
        return resident_pages * _PAGE_SIZE

    def _close(self) -> None:
        self.output.stop()
        self.output.close()
        self._writer.transport.abort()
        self.lifeline.hang_up()


def _read_small(path: str) -> bytes:
    """A short kernel file in one read: no buffered text file to set up, as the reaper reads many."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 256)
    finally:
        os.close(fd)
