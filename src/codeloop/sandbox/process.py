"""ProcessSandbox: every session is one plain child process running child.py, not isolated.

The --insecure-no-sandbox path (and the baseline the security tests attack): it keeps sessions
apart and cleans up after them, but it is no security boundary (same uid, same filesystem view,
network allowed). ForkSandbox (forkserver.py) is the isolated one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from codeloop.errors import SandboxFailure
from codeloop.sandbox.base import SessionCounts
from codeloop.sandbox.blocks import put_file, run_block
from codeloop.sandbox.execution import Execution
from codeloop.sandbox.homes import make_home
from codeloop.sandbox.limits import Limits
from codeloop.sandbox.output import Output, signal_name
from codeloop.sandbox.protocol import ProtocolError, read_message_async

__all__ = ["ProcessSandbox", "ProcessSession"]

CHILD_SCRIPT = Path(__file__).with_name("child.py")
# Generous: a cold start on a loaded host; a warm one takes tens of milliseconds.
START_TIMEOUT_S = 30.0
# How long a child that closed its end of the socket gets to be reaped, for an exit status.
EXIT_GRACE_S = 0.5


class _Child:
    """One interpreter process: its protocol socket, its output pipe, its process group."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        output: Output,
    ) -> None:
        self.proc = proc
        self._reader = reader
        self._writer = writer
        self.output = output
        self._killed = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def usable(self) -> bool:
        return not self._killed and self.proc.returncode is None

    @classmethod
    async def start(cls, python: str, workdir: Path, env: dict[str, str]) -> _Child:
        ours, theirs = socket.socketpair()
        out_r, out_w = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *(python, "-I", "-B", "-u", str(CHILD_SCRIPT), str(theirs.fileno()), str(os.getpid())),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(theirs.fileno(),),
                cwd=workdir,
                env=env,
                # Its own process group: one killpg reaches everything user code spawns,
                # unless that calls setsid() itself, which the hardened sandbox must handle.
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            os.close(out_r)
            raise SandboxFailure(f"cannot start the interpreter {python}: {exc}") from exc
        finally:
            theirs.close()
            os.close(out_w)
        output = Output(out_r, limit=4096)
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        child = cls(proc, reader, writer, output)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                hello = await read_message_async(reader)
            if hello is None or hello.get("type") != "ready":
                raise ProtocolError(f"expected a ready message, got {hello!r}")
        except TimeoutError as exc:
            await child.kill()
            raise SandboxFailure(f"the interpreter was not ready within {START_TIMEOUT_S:g} s") from exc
        except (ProtocolError, OSError) as exc:
            how = await child.post_mortem(exc)
            printed = output.text().strip()
            detail = f"; it printed: {printed}" if printed else ""
            raise SandboxFailure(f"the interpreter {how} before it was ready{detail}") from exc
        except BaseException:
            child.abandon()
            raise
        output.stop()
        return child

    async def run(self, code: str, timeout_s: float, output_bytes: int) -> Execution:
        return await run_block(self, code, timeout_s, output_bytes)

    async def request(self, frame: bytes, kind: str) -> dict[str, Any]:
        """Send one request; its reply, or ProtocolError if the child dies or garbles the channel first."""
        self._writer.write(frame)
        await self._writer.drain()
        read = asyncio.ensure_future(read_message_async(self._reader))
        exited = asyncio.ensure_future(self.proc.wait())
        try:
            await asyncio.wait({read, exited}, return_when=asyncio.FIRST_COMPLETED)
            if not read.done():
                # Exited, yet a fork of user code may still hold the socket open: don't wait on EOF.
                await asyncio.wait({read}, timeout=EXIT_GRACE_S)
            reply = read.result() if read.done() else None
        finally:
            for task in (read, exited):
                task.cancel()
            await asyncio.gather(read, exited, return_exceptions=True)
        if reply is None:
            raise ProtocolError("the interpreter closed the channel")
        if reply.get("type") != kind:
            raise ProtocolError(f"expected a {kind} message, got type {reply.get('type')!r}")
        return reply

    async def post_mortem(self, exc: Exception) -> str:
        """Kill the child; say how it died ("exited with code 3"), or how it broke the channel."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(EXIT_GRACE_S):
                await self.proc.wait()
        status = self.proc.returncode
        await self.kill()
        if status is None:
            return f"broke its control channel ({exc})"
        if status < 0:
            return f"was killed by signal {signal_name(-status)}"
        return f"exited with code {status}"

    def _signal(self) -> None:
        """SIGKILL the whole process group."""
        self._killed = True
        # ESRCH: the leader and everything it spawned are gone. The group id cannot have been
        # reused meanwhile: Linux hands out no pid still in use as a process group id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    async def kill(self) -> None:
        """Idempotent: SIGKILL the group, reap the child, keep what it printed, close the fds."""
        self._signal()
        await self.proc.wait()
        self.output.stop()
        self.output.close()
        self._writer.transport.abort()

    def abandon(self) -> None:
        """kill() for when we cannot await: asyncio's child watcher reaps it; kill() may follow."""
        self._signal()
        self.output.close()
        self._writer.transport.abort()


class ProcessSession:
    """A Session on one child process; after a timeout or crash the next block gets a fresh one."""

    def __init__(self, sandbox: ProcessSandbox, workdir: Path) -> None:
        self._sandbox = sandbox
        self.workdir = workdir
        self._child: _Child | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The interpreter's pid (also its process group id), if one is running."""
        return self._child.pid if self._child is not None and self._child.usable else None

    async def start(self) -> None:
        async with self._lock:
            await self._ensure_child()

    async def run(self, code: str, timeout_s: float | None = None) -> Execution:
        limits = self._sandbox.limits
        timeout = limits.timeout_s if timeout_s is None else timeout_s
        async with self._lock:
            child = await self._ensure_child()
            execution = await child.run(code, timeout, limits.output_bytes)
            if self._closed:
                raise SandboxFailure("the session was closed while running the block")
            return execution

    async def put_file(self, name: str, data: bytes) -> None:
        """Stage an input file in the working dir under its name, for the next block to read."""
        async with self._lock:
            await put_file(await self._ensure_child(), name, data)

    async def _ensure_child(self) -> _Child:
        if self._closed:
            raise SandboxFailure("the session is closed")
        if self._child is not None and not self._child.usable:
            child, self._child = self._child, None
            await child.kill()
        if self._child is None:
            child = await _Child.start(self._sandbox.python, self.workdir, self._sandbox.child_env(self))
            if self._closed:  # close() ran while it started
                await child.kill()
                raise SandboxFailure("the session is closed")
            self._child = child
        return self._child

    async def close(self) -> None:
        """Kill every process of the session, remove its working dir. Idempotent; doesn't wait for run().

        Everything that matters happens before the first await: a request that is being cancelled
        (its client went away) may be cancelled again at every await, and must still not leak."""
        if self._closed:
            return
        self._closed = True
        self._sandbox._forget(self)
        child, self._child = self._child, None
        if child is not None:
            child.abandon()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if child is not None:
            await child.proc.wait()  # reaped by asyncio's child watcher even if this is cancelled


class ProcessSandbox:
    """Opens ProcessSessions, each in a fresh private dir under one per-sandbox temp dir."""

    def __init__(
        self,
        limits: Limits,
        python: str = sys.executable,
        *,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.limits = limits
        self.python = python
        self._root = root
        self._home: Path | None = None
        self._sessions: set[ProcessSession] = set()
        self._closed = False

    @property
    def session_counts(self) -> SessionCounts:
        """Interpreters start on demand, none ahead of it, and no count is capped."""
        return SessionCounts(len(self._sessions))

    async def open_session(self) -> ProcessSession:
        if self._closed:
            raise SandboxFailure("the sandbox is closed")
        try:
            workdir = Path(tempfile.mkdtemp(prefix="session-", dir=self._ensure_home()))
        except OSError as exc:
            raise SandboxFailure(f"cannot create a session dir: {exc}") from exc
        session = ProcessSession(self, workdir)
        self._sessions.add(session)
        try:
            await session.start()
        except BaseException:
            await session.close()
            raise
        return session

    async def close(self) -> None:
        self._closed = True
        await asyncio.gather(*(session.close() for session in list(self._sessions)))
        if self._home is not None:
            await asyncio.to_thread(shutil.rmtree, self._home, ignore_errors=True)
            self._home = None

    def child_env(self, session: ProcessSession) -> dict[str, str]:
        """The whole environment of a session process: nothing of the server's leaks in."""
        path = os.environ.get("PATH", os.defpath)
        bindir = os.path.dirname(self.python)
        if bindir and bindir not in path.split(os.pathsep):
            path = bindir + os.pathsep + path  # `python`/`pip` in a shell mean the sandbox's
        return {
            "PATH": path,
            "LANG": "C.UTF-8",
            "HOME": str(session.workdir),
            "MPLBACKEND": "Agg",
            # Outside every workdir and shared: matplotlib builds its font cache once per sandbox.
            "MPLCONFIGDIR": str(self._ensure_home() / "mplconfig"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def _ensure_home(self) -> Path:
        if self._home is None:
            self._home = make_home(self._root)
            (self._home / "mplconfig").mkdir()
        return self._home

    def _forget(self, session: ProcessSession) -> None:
        self._sessions.discard(session)
