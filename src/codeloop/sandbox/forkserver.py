"""ForkSandbox: isolated sessions forked in milliseconds from a zygote that preloaded the stack.

The server side of zygote.py (which draws the process tree). Each session is pid 1 of its own
user, pid, net, mount, ipc, uts and cgroup namespaces, sees a read-only system with an in-memory
working dir and /tmp, runs under seccomp, rlimits and (where the host allows) a cgroup, as an
unprivileged uid. Where that cannot be set up, start() refuses with a clear error.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from codeloop.errors import QuotaExceeded, SandboxFailure
from codeloop.sandbox.base import SessionCounts
from codeloop.sandbox.blocks import put_file
from codeloop.sandbox.execution import Execution
from codeloop.sandbox.homes import make_home
from codeloop.sandbox.isolation import filesystem
from codeloop.sandbox.limits import Limits, SandboxConfig
from codeloop.sandbox.zygote_client import SessionProcess, ZygoteClient

__all__ = ["ForkSandbox", "ForkSession"]

log = logging.getLogger("codeloop.sandbox")

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


class ForkSession:
    """A Session on isolated interpreters; after a timeout, crash or eviction the next block starts afresh."""

    def __init__(self, sandbox: ForkSandbox, number: int) -> None:
        self._sandbox = sandbox
        self.number = number
        self._interpreter: SessionProcess | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._note = ""
        self.running = False
        self.last_used = time.monotonic()

    @property
    def pid(self) -> int | None:
        """pid 1 of the session's namespaces, as the host sees it, if one is running."""
        it = self._interpreter
        return it.pid if it is not None and it.usable else None

    @property
    def live(self) -> bool:
        return self._interpreter is not None and self._interpreter.usable

    async def start(self) -> None:
        async with self._lock:
            await self._ensure()

    async def run(self, code: str, timeout_s: float | None = None) -> Execution:
        limits = self._sandbox.limits
        timeout = limits.timeout_s if timeout_s is None else timeout_s
        async with self._lock:
            interpreter = await self._ensure()
            self.running = True
            try:
                execution = await interpreter.run(code, timeout, limits.output_bytes)
            finally:
                self.running = False
                self.last_used = time.monotonic()
            if self._closed:
                raise SandboxFailure("the session was closed while running the block")
            note, self._note = self._note, ""
            if note:
                return Execution(execution.outcome, note + execution.output, execution.files)
            return execution

    async def put_file(self, name: str, data: bytes) -> None:
        """Stage an input file in the working dir under its name, for the next block to read."""
        async with self._lock:
            await put_file(await self._ensure(), name, data)

    async def reset(self, reason: str) -> None:
        """Drop the interpreter (and its state) to free its resources; the next block starts afresh."""
        interpreter, self._interpreter = self._interpreter, None
        if interpreter is not None:
            self._note = f"[{reason}; the interpreter was restarted and its state lost]\n"
            await interpreter.kill()

    async def _ensure(self) -> SessionProcess:
        if self._closed:
            raise SandboxFailure("the session is closed")
        if self._interpreter is not None and not self._interpreter.usable:
            interpreter, self._interpreter = self._interpreter, None
            await interpreter.kill()
        if self._interpreter is None:
            interpreter = await self._sandbox._spawn(self)
            if self._closed:  # close() ran while it started
                await interpreter.kill()
                raise SandboxFailure("the session is closed")
            self._interpreter = interpreter
            self.last_used = time.monotonic()
        return self._interpreter

    async def close(self) -> None:
        """Kill the session's processes. Idempotent; everything that matters happens before an await."""
        if self._closed:
            return
        self._closed = True
        self._sandbox._forget(self)
        interpreter, self._interpreter = self._interpreter, None
        if interpreter is not None:
            interpreter.abandon()


class ForkSandbox:
    """Opens ForkSessions; one or more zygotes fork them, round robin."""

    def __init__(
        self,
        limits: Limits,
        config: SandboxConfig | None = None,
        python: str = sys.executable,
        *,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.limits = limits
        self.config = config or SandboxConfig()
        self.python = python
        self._root = root
        self._home: Path | None = None
        self._zygotes: list[ZygoteClient] = []
        self._sessions: set[ForkSession] = set()
        self._started = False
        self._start_lock: asyncio.Lock | None = None
        self._reaper: asyncio.Task[None] | None = None
        # Interpreters started ahead of demand, so that a session opens without waiting for one.
        self._spares: list[asyncio.Task[SessionProcess]] = []
        self._count = 0
        self._closed = False

    @property
    def session_counts(self) -> SessionCounts:
        return SessionCounts(len(self._sessions), len(self._spares), self.config.max_sessions)

    async def start(self) -> None:
        """Start the zygotes and prove that a session can be isolated; SandboxFailure if not."""
        if self._closed:
            raise SandboxFailure("the sandbox is closed")
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            home = self._ensure_home()
            env = self._zygote_env(home)
            config = self._zygote_config(home)
            try:
                for _ in range(max(1, self.config.zygotes)):
                    self._zygotes.append(await ZygoteClient.start(self.python, config, env))
                self._started = True
                probe = ForkSession(self, self._next_number())
                await probe.start()
                await probe.close()
            except BaseException:
                await self._stop_zygotes()
                self._started = False
                raise
            self._reaper = asyncio.create_task(self._reap_idle())
            self._refill()

    async def open_session(self) -> ForkSession:
        await self.start()
        if self._closed:
            raise SandboxFailure("the sandbox is closed")
        session = ForkSession(self, self._next_number())
        self._sessions.add(session)
        try:
            await session.start()
        except BaseException:
            await session.close()
            raise
        return session

    async def close(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        spares, self._spares = self._spares, []
        for task in spares:
            if task.done() and not task.cancelled() and task.exception() is None:
                task.result().abandon()
            else:
                task.cancel()
        await asyncio.gather(*spares, return_exceptions=True)
        await asyncio.gather(*(session.close() for session in list(self._sessions)))
        await self._stop_zygotes()
        if self._home is not None:
            await asyncio.to_thread(shutil.rmtree, self._home, ignore_errors=True)
            self._home = None

    async def _spawn(self, session: ForkSession) -> SessionProcess:
        """An interpreter for session: a spare if one is (or is about to be) ready, else a new one."""
        await self._admit(session)
        try:
            while self._spares:
                task = self._spares.pop(0)
                try:
                    interpreter = await task
                except Exception as exc:  # e.g. its zygote died; a fresh start below says why, if it must
                    log.debug("sandbox: a spare interpreter failed to start: %s", exc)
                    continue
                if interpreter.usable:
                    return interpreter
                await interpreter.kill()
            return await self._start_interpreter()
        finally:
            self._refill()

    def _refill(self) -> None:
        if self._closed or self._reaper is None:  # not before start() has proved isolation works
            return
        while len(self._spares) < self.config.spare_sessions:
            self._spares.append(asyncio.create_task(self._start_interpreter()))

    async def _start_interpreter(self) -> SessionProcess:
        number = self._next_number()
        zygote = await self._zygote_for(number)
        uid = self.config.uid_base + number % self.config.uid_count
        limits = self.limits
        request = {
            "id": number,
            "uid": uid,
            "gid": uid,
            "limits": {
                "memory_mib": limits.memory_mib,
                "pids": limits.pids,
                "disk_mib": limits.disk_mib,
                "file_mib": limits.file_mib,
                "open_files": limits.open_files,
                "cpus": limits.cpus,
            },
        }
        return await SessionProcess.start(zygote, request, limits.memory_mib)

    async def _zygote_for(self, number: int) -> ZygoteClient:
        index = number % len(self._zygotes)
        zygote = self._zygotes[index]
        if not zygote.alive:  # killed from outside: replace it rather than fail every session
            log.warning("sandbox: zygote %d died; starting a new one", zygote.proc.pid)
            home = self._ensure_home()
            zygote = await ZygoteClient.start(self.python, self._zygote_config(home), self._zygote_env(home))
            self._zygotes[index] = zygote
        return zygote

    async def _admit(self, session: ForkSession) -> None:
        """Make room for one more live interpreter: reset the least recently used idle one."""
        live = [s for s in self._sessions if s.live and s is not session]
        if len(live) < self.config.max_sessions:
            return
        idle = [s for s in live if not s.running]
        if not idle:
            raise QuotaExceeded(f"all {self.config.max_sessions} sandbox sessions are busy; try again later")
        victim = min(idle, key=lambda s: s.last_used)
        await victim.reset(f"session evicted: more than {self.config.max_sessions} sessions were open")

    async def _reap_idle(self) -> None:
        period = min(max(self.config.idle_timeout_s / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for session in list(self._sessions):
                idle = session.live and not session.running
                if idle and now - session.last_used > self.config.idle_timeout_s:
                    await session.reset(f"session idle for over {self.config.idle_timeout_s:g} s")

    def _next_number(self) -> int:
        self._count += 1
        return self._count

    def _forget(self, session: ForkSession) -> None:
        self._sessions.discard(session)

    async def _stop_zygotes(self) -> None:
        zygotes, self._zygotes = self._zygotes, []
        await asyncio.gather(*(z.close() for z in zygotes))

    def _ensure_home(self) -> Path:
        if self._home is None:
            self._home = make_home(self._root)
            (self._home / "mplconfig").mkdir()
            (self._home / "root").mkdir()
        return self._home

    def _zygote_env(self, home: Path) -> dict[str, str]:
        """The zygote's whole environment: nothing of the server's, so /proc/*/environ shows none."""
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(home),
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": str(home / "mplconfig"),
            "PYTHONDONTWRITEBYTECODE": "1",
            # One BLAS thread: fork() is only safe in a single-threaded process.
            **dict.fromkeys(_THREAD_VARS, "1"),
        }

    def _zygote_config(self, home: Path) -> dict[str, Any]:
        return {
            "preload": list(self.config.preload),
            "cgroups": self.config.cgroups,
            "new_root": str(home / "root"),
            "mplconfig": str(home / "mplconfig"),
            "env": {  # PATH is the zygote's to complete: its Python's bin dir comes first
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "HOME": filesystem.WORKDIR,
                "TMPDIR": "/tmp",
                "MPLBACKEND": "Agg",
                "MPLCONFIGDIR": "/tmp/matplotlib",
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1",
                # No network in here: pip fails at once instead of retrying for a minute.
                "PIP_NO_INDEX": "1",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                **dict.fromkeys(_THREAD_VARS, "1"),
            },
        }
