"""The server's end of zygote.py: start a zygote, ask it for sessions, watch each through its keeper."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from codeloop.errors import SandboxFailure
from codeloop.sandbox.handle import Exit, IsolationRefused, ProcessHandle, Streams
from codeloop.sandbox.output import Output, signal_name
from codeloop.sandbox.protocol import ProtocolError, read_message_async

__all__ = ["HINT", "ZygoteClient", "start_session"]

log = logging.getLogger("codeloop.sandbox")

ZYGOTE_SCRIPT = Path(__file__).with_name("zygote.py")
# Preloading takes about a second; much longer on a loaded host.
ZYGOTE_START_TIMEOUT_S = 120.0
SESSION_START_TIMEOUT_S = 30.0
ZYGOTE_EXIT_GRACE_S = 2.0
# How long a dead session's keeper gets to report its exit status.
EXIT_GRACE_S = 5.0
# Said only where a session cannot be isolated at all, never when something crashed.
HINT = (
    "codeloop runs model-written code only in an isolated sandbox; run the server as root or where "
    "the kernel allows unprivileged user namespaces, or pass --insecure-no-sandbox to run code "
    "without isolation (never with untrusted users)"
)


class ZygoteClient:
    """One zygote process and its request socket."""

    def __init__(self, proc: asyncio.subprocess.Process, sock: socket.socket, info: dict[str, Any]) -> None:
        self.proc = proc
        self.sock = sock
        self.info = info
        self._stderr = asyncio.create_task(self._log_stderr())

    @classmethod
    async def start(cls, python: str, config: dict[str, Any], env: dict[str, str]) -> ZygoteClient:
        """Start a zygote. Its config travels over the socket: its command line, which every
        session sees as /proc/1/cmdline, names no path, pid or setting of the server's."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = await asyncio.create_subprocess_exec(
                *(python, "-I", "-B", "-u", str(ZYGOTE_SCRIPT), str(theirs.fileno())),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(theirs.fileno(),),
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            raise SandboxFailure(f"cannot start the sandbox's zygote with {python}: {exc}") from exc
        finally:
            theirs.close()
        try:
            ours.sendall(json.dumps({**config, "server_pid": os.getpid()}).encode())
            ours.setblocking(False)
            async with asyncio.timeout(ZYGOTE_START_TIMEOUT_S):
                data = await asyncio.get_running_loop().sock_recv(ours, 1 << 16)
            info = json.loads(data) if data else {}
        except BaseException as exc:
            proc.kill()
            ours.close()
            await proc.wait()
            if isinstance(exc, TimeoutError):
                raise SandboxFailure("the sandbox's zygote was not ready in time") from exc
            if isinstance(exc, OSError):
                raise SandboxFailure(f"the sandbox's zygote failed to start: {exc}") from exc
            raise
        if info.get("type") != "ready":
            if not data:
                proc.kill()
            await proc.wait()
            ours.close()
            assert proc.stderr is not None
            printed = (await proc.stderr.read()).decode(errors="replace").strip()[-2000:]
            reason = info.get("message") or f"it exited ({printed or 'nothing printed'})"
            raise SandboxFailure(f"the sandbox's zygote failed to start: {reason}")
        for warning in info.get("warnings", ()):
            log.warning("sandbox: %s", warning)
        return cls(proc, ours, info)

    @property
    def alive(self) -> bool:
        return self.death() is None

    def death(self) -> str | None:
        """How the zygote ended ("was killed by signal SIGKILL"), or None while it runs.

        Asks the kernel without reaping: asyncio's child watcher may not have noticed yet."""
        status = self.proc.returncode
        if status is None:
            try:
                found = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:  # reaped just now: the watcher has its status
                return "died"
            if found is None:
                return None
            killed = found.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
            status = -found.si_status if killed else found.si_status
        if status < 0:
            return f"was killed by signal {signal_name(-status)}"
        return f"exited with code {status}"

    async def death_within(self, seconds: float) -> str | None:
        """death(), waiting up to seconds for it: a dying zygote's sockets close a moment before the
        kernel reports its exit, so a session start that failed that way would otherwise blame the
        machine instead."""
        deadline = time.monotonic() + seconds
        while (death := self.death()) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return death

    async def spawn(self, request: dict[str, Any], fds: list[int]) -> None:
        """Hand the zygote one session to fork; its keeper answers on the keeper socket."""
        message = [json.dumps(request).encode()]
        loop = asyncio.get_running_loop()
        while True:
            try:
                socket.send_fds(self.sock, message, fds)
                return
            except BlockingIOError:
                writable = loop.create_future()
                loop.add_writer(self.sock, writable.set_result, None)
                try:
                    await writable
                finally:
                    loop.remove_writer(self.sock)
            except OSError as exc:
                raise SandboxFailure(f"the sandbox's zygote is gone: {exc}") from exc

    async def _log_stderr(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            log.warning("sandbox zygote: %s", line.decode(errors="replace").rstrip())

    async def close(self) -> None:
        self.sock.close()  # on EOF the zygote removes its cgroups and exits; SIGKILL if it is stuck
        try:
            async with asyncio.timeout(ZYGOTE_EXIT_GRACE_S):
                await self.proc.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        self._stderr.cancel()
        await asyncio.gather(self._stderr, return_exceptions=True)


class KeeperLifeline:
    """The session's keeper: it reports how the session ended, kills it when asked or hung up on."""

    grace_s = EXIT_GRACE_S

    def __init__(self, keep: Streams, zygote: ZygoteClient) -> None:
        self._reader, self._writer = keep
        self._zygote = zygote
        self.exited: asyncio.Future[Exit | None] = asyncio.get_running_loop().create_future()
        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        """The keeper's last word: how the session ended (None if the keeper died first)."""
        try:
            report = await read_message_async(self._reader)
        except (ProtocolError, OSError):
            report = None
        if not self.exited.done():
            self.exited.set_result(_exit(report) if report is not None else None)

    def kill(self) -> None:
        if not self._writer.is_closing():
            with contextlib.suppress(OSError, RuntimeError):
                self._writer.write(b"k")

    def hang_up(self) -> None:
        """Hanging up on the keeper makes it kill the session, if it has not yet."""
        self._writer.transport.abort()
        self._watcher.cancel()
        if not self.exited.done():
            self.exited.set_result(None)

    async def cause(self) -> str | None:
        death = self._zygote.death()
        return f"the sandbox's zygote, which {death}" if death is not None else None


def _exit(report: dict[str, Any]) -> Exit:
    status = int(report.get("status", 0))
    oom = bool(report.get("oom"))
    if os.WIFSIGNALED(status):
        return Exit(signal=os.WTERMSIG(status), oom=oom)
    return Exit(code=os.waitstatus_to_exitcode(status), oom=oom)


async def start_session(zygote: ZygoteClient, request: dict[str, Any], memory_mib: int) -> ProcessHandle:
    """Have the zygote fork one isolated session; the handle once its interpreter is ready."""
    ctrl_ours, ctrl_theirs = socket.socketpair()
    keep_ours, keep_theirs = socket.socketpair()
    out_r, out_w = os.pipe()
    try:
        await zygote.spawn(request, [ctrl_theirs.fileno(), out_w, keep_theirs.fileno()])
    except BaseException:
        for end in (ctrl_ours, keep_ours):
            end.close()
        os.close(out_r)
        raise
    finally:
        ctrl_theirs.close()
        keep_theirs.close()
        os.close(out_w)
    output = Output(out_r, limit=4096)
    ctrl: Streams | None = None
    keep: Streams | None = None
    try:
        ctrl = await asyncio.open_unix_connection(sock=ctrl_ours)
        keep = await asyncio.open_unix_connection(sock=keep_ours)
        started = await _started(keep[0])
        if started is None or started.get("type") != "started":
            raise _not_started(started, zygote)
    except BaseException:  # the keeper sees its socket close and kills the session
        output.close()
        for streams, sock in ((ctrl, ctrl_ours), (keep, keep_ours)):
            if streams is not None:  # its transport owns the socket now
                streams[1].transport.abort()
            sock.close()
        raise
    lifeline = KeeperLifeline(keep, zygote)
    limit = started.get("memory_limit")
    handle = ProcessHandle(
        int(started["pid"]),
        ctrl,
        output,
        lifeline,
        memory_mib,
        started.get("memory"),
        limit if type(limit) is int else None,
    )
    try:
        await handle.greet(SESSION_START_TIMEOUT_S)
    except IsolationRefused as exc:
        raise IsolationRefused(f"{exc.message}; {HINT}") from exc
    return handle


async def _started(keeper: asyncio.StreamReader) -> dict[str, Any] | None:
    """The keeper's first word, or None if it (or the zygote) died before saying anything."""
    try:
        async with asyncio.timeout(SESSION_START_TIMEOUT_S):
            return await read_message_async(keeper)
    except TimeoutError as exc:
        raise SandboxFailure(f"the session was not ready within {SESSION_START_TIMEOUT_S:g} s") from exc
    except (ProtocolError, OSError):
        return None


def _not_started(started: dict[str, Any] | None, zygote: ZygoteClient) -> SandboxFailure:
    if started is not None and started.get("type") == "error":
        return IsolationRefused(f"cannot start an isolated session: {started.get('message')}; {HINT}")
    if started is not None:
        return SandboxFailure(f"expected a started message from the keeper, got {started!r}")
    death = zygote.death()
    if death is not None:
        return SandboxFailure(f"the sandbox's zygote {death} while starting a session")
    return SandboxFailure("the sandbox's zygote could not fork a session (out of processes?)")
