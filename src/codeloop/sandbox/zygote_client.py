"""The server's end of zygote.py: start a zygote, ask it for sessions, drive one session process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from codeloop.errors import SandboxFailure
from codeloop.sandbox.blocks import run_block
from codeloop.sandbox.execution import Execution
from codeloop.sandbox.output import Output, signal_name
from codeloop.sandbox.protocol import ProtocolError, read_message_async

__all__ = ["HINT", "SessionProcess", "ZygoteClient"]

log = logging.getLogger("codeloop.sandbox")

ZYGOTE_SCRIPT = Path(__file__).with_name("zygote.py")
# Preloading takes about a second; much longer on a loaded host.
ZYGOTE_START_TIMEOUT_S = 120.0
SESSION_START_TIMEOUT_S = 30.0
ZYGOTE_EXIT_GRACE_S = 2.0
# How long a dead session's keeper gets to report its exit status.
EXIT_GRACE_S = 5.0
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
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            argv = (str(ZYGOTE_SCRIPT), str(theirs.fileno()), str(os.getpid()), json.dumps(config))
            proc = await asyncio.create_subprocess_exec(
                *(python, "-I", "-B", "-u", *argv),
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
        ours.setblocking(False)
        try:
            async with asyncio.timeout(ZYGOTE_START_TIMEOUT_S):
                data = await asyncio.get_running_loop().sock_recv(ours, 1 << 16)
            info = json.loads(data) if data else {}
        except BaseException as exc:
            proc.kill()
            ours.close()
            await proc.wait()
            if isinstance(exc, TimeoutError):
                raise SandboxFailure("the sandbox's zygote was not ready in time") from exc
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
        return self.proc.returncode is None

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


class SessionProcess:
    """One isolated session process: protocol socket, output pipe, and the keeper socket."""

    def __init__(
        self,
        ctrl: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        keep: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        output: Output,
        memory_mib: int,
    ) -> None:
        self._reader, self._writer = ctrl
        self._keep_reader, self._keep_writer = keep
        self.output = output
        self._memory_mib = memory_mib
        self.pid: int | None = None
        self.exited: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._watcher: asyncio.Task[None] | None = None
        self._killed = False

    @property
    def usable(self) -> bool:
        return not self._killed and not self.exited.done()

    @classmethod
    async def start(cls, zygote: ZygoteClient, request: dict[str, Any], memory_mib: int) -> SessionProcess:
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
        ctrl: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            ctrl = await asyncio.open_unix_connection(sock=ctrl_ours)
            keep = await asyncio.open_unix_connection(sock=keep_ours)
        except BaseException:  # the keeper sees its socket close and kills the session
            output.close()
            if ctrl is not None:  # cancelled in between: the first transport owns its socket now
                ctrl[1].transport.abort()
            ctrl_ours.close()
            keep_ours.close()
            raise
        interpreter = cls(ctrl, keep, output, memory_mib)
        try:
            async with asyncio.timeout(SESSION_START_TIMEOUT_S):
                await interpreter._handshake()
        except TimeoutError as exc:
            await interpreter.kill()
            raise SandboxFailure(f"the session was not ready within {SESSION_START_TIMEOUT_S:g} s") from exc
        except BaseException:
            interpreter.abandon()
            raise
        output.stop()
        return interpreter

    async def _handshake(self) -> None:
        started = await read_message_async(self._keep_reader)
        if started is None or started.get("type") != "started":
            message = (started or {}).get("message", "the zygote died")
            raise SandboxFailure(f"cannot start an isolated session: {message}; {HINT}")
        self.pid = int(started["pid"])
        self._watcher = asyncio.create_task(self._watch())
        try:
            hello = await read_message_async(self._reader)
        except (ProtocolError, OSError) as exc:
            hello = {"type": "error", "message": str(exc)}
        if hello is None:
            how = await self.post_mortem()
            printed = self.output.text().strip()
            detail = f"; it printed: {printed}" if printed else ""
            raise SandboxFailure(f"the session {how} before it was ready{detail}")
        if hello.get("type") == "error":
            await self.kill()
            raise SandboxFailure(f"cannot isolate the session: {hello.get('message')}; {HINT}")
        if hello.get("type") != "ready":
            raise SandboxFailure(f"expected a ready message, got {hello!r}")

    async def _watch(self) -> None:
        """The keeper's last word: how the session ended (None if the keeper died first)."""
        try:
            message = await read_message_async(self._keep_reader)
        except (ProtocolError, OSError):
            message = None
        if not self.exited.done():
            self.exited.set_result(message)

    async def run(self, code: str, timeout_s: float, output_bytes: int) -> Execution:
        return await run_block(self, code, timeout_s, output_bytes)

    async def request(self, frame: bytes, kind: str) -> dict[str, Any]:
        """Send one request; its reply, or ProtocolError if the session dies or garbles it first."""
        self._writer.write(frame)
        await self._writer.drain()
        read = asyncio.ensure_future(read_message_async(self._reader))
        try:
            await asyncio.wait({read, self.exited}, return_when=asyncio.FIRST_COMPLETED)
            if not read.done():
                # Dead, yet the socket may not have reported EOF yet: give it a moment.
                await asyncio.wait({read}, timeout=0.5)
            reply = read.result() if read.done() else None
        finally:
            read.cancel()
            await asyncio.gather(read, return_exceptions=True)
        if reply is None:
            raise ProtocolError("the interpreter closed the channel")
        if reply.get("type") != kind:
            raise ProtocolError(f"expected a {kind} message, got type {reply.get('type')!r}")
        return reply

    async def post_mortem(self, exc: Exception | None = None) -> str:
        """Make sure it is dead; say how it died ("exited with code 3", "ran out of memory")."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(EXIT_GRACE_S):
                await asyncio.shield(self.exited)
        alive = not self.exited.done()
        await self.kill()
        report = self.exited.result() if self.exited.done() else None
        if alive or report is None:
            return "broke its control channel"
        if report.get("oom"):
            return f"ran out of memory (the limit is {self._memory_mib} MiB) and was killed"
        status = int(report.get("status", 0))
        if os.WIFSIGNALED(status):
            return f"was killed by signal {signal_name(os.WTERMSIG(status))}"
        return f"exited with code {os.waitstatus_to_exitcode(status)}"

    async def kill(self) -> None:
        """Idempotent: the keeper SIGKILLs pid 1 (and with it the namespace); wait for its report."""
        self._signal()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(EXIT_GRACE_S):
                await asyncio.shield(self.exited)
        self._close()

    def _signal(self) -> None:
        self._killed = True
        if not self._keep_writer.is_closing():
            with contextlib.suppress(OSError, RuntimeError):
                self._keep_writer.write(b"k")

    def abandon(self) -> None:
        """kill() for when we cannot await: hanging up on the keeper makes it kill the session."""
        self._killed = True
        self._close()

    def _close(self) -> None:
        self.output.stop()
        self.output.close()
        self._writer.transport.abort()
        self._keep_writer.transport.abort()
        if self._watcher is not None:
            self._watcher.cancel()
        if not self.exited.done():
            self.exited.set_result(None)
