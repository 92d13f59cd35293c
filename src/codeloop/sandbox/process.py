"""ProcessSandbox: every interpreter is one plain child process running child.py, not isolated.

The --insecure-no-sandbox path (and the baseline the security tests attack): it keeps sessions
apart and cleans up after them, but it is no security boundary (same uid, same filesystem view,
network allowed). ForkSandbox (forkserver.py) is the isolated one; shell.py is what both share.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import tempfile
from pathlib import Path

from codeloop.errors import SandboxFailure
from codeloop.sandbox.environment import session_env, with_bindir
from codeloop.sandbox.handle import Exit, ProcessHandle
from codeloop.sandbox.homes import make_home
from codeloop.sandbox.limits import Limits
from codeloop.sandbox.output import Output
from codeloop.sandbox.shell import ShellSandbox

__all__ = ["ProcessLauncher", "ProcessSandbox"]

CHILD_SCRIPT = Path(__file__).with_name("child.py")
# Generous: a cold start on a loaded host; a warm one takes tens of milliseconds.
START_TIMEOUT_S = 30.0


class ProcessSandbox(ShellSandbox):
    """Sessions on plain child processes, each in a fresh private dir under one per-sandbox temp dir."""

    def _make_launcher(self, python: str, root: str | os.PathLike[str] | None) -> ProcessLauncher:
        return ProcessLauncher(self.limits, python, root)


class ChildLifeline:
    """The child process itself: asyncio reaps it; its process group is how to kill all it started."""

    # A child that closed its end of the socket gets this long to be reaped, for an exit status.
    grace_s = 0.5

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.exited: asyncio.Future[Exit | None] = asyncio.get_running_loop().create_future()
        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        status = await self._proc.wait()
        if not self.exited.done():
            self.exited.set_result(Exit(signal=-status) if status < 0 else Exit(code=status))

    def kill(self) -> None:
        # ESRCH: the leader and everything it spawned are gone. The group id cannot have been
        # reused meanwhile: Linux hands out no pid still in use as a process group id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)

    def hang_up(self) -> None:
        """Nothing to close: the watcher reaps the child, which is already killed."""

    async def cause(self) -> str | None:
        return None


class ProcessLauncher:
    """Starts `python child.py` in the session's dir, with the one session environment."""

    def __init__(self, limits: Limits, python: str, root: str | os.PathLike[str] | None) -> None:
        self.limits = limits
        self.python = python
        self._root = root
        self._home: Path | None = None
        # Every child not yet reaped, whoever holds it: close() kills and reaps them all.
        self._children: set[ChildLifeline] = set()

    async def start(self) -> None:
        self._ensure_home()

    def new_workdir(self) -> Path:
        try:
            return Path(tempfile.mkdtemp(prefix="session-", dir=self._ensure_home()))
        except OSError as exc:
            raise SandboxFailure(f"cannot create a session dir: {exc}") from exc

    def remove_workdir(self, workdir: Path) -> None:
        shutil.rmtree(workdir, ignore_errors=True)

    async def launch(self, number: int, workdir: Path | None) -> ProcessHandle:
        workdir = workdir or self.new_workdir()
        env = session_env(
            home=str(workdir),
            # Outside every workdir and shared: matplotlib builds its font cache once per sandbox.
            mplconfig=str(self._ensure_home() / "mplconfig"),
            path=with_bindir(self.python, os.environ.get("PATH", os.defpath)),
            isolated=False,
        )
        ours, theirs = socket.socketpair()
        out_r, out_w = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *(self.python, "-I", "-B", "-u", str(CHILD_SCRIPT), str(theirs.fileno()), str(os.getpid())),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(theirs.fileno(),),
                cwd=workdir,
                env=env,
                # Its own process group: one killpg reaches everything user code spawns,
                # unless that calls setsid() itself, which only the isolated sandbox handles.
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            os.close(out_r)
            raise SandboxFailure(f"cannot start the interpreter {self.python}: {exc}") from exc
        finally:
            theirs.close()
            os.close(out_w)
        output = Output(out_r, limit=4096)
        lifeline = ChildLifeline(proc)
        self._children.add(lifeline)
        lifeline.exited.add_done_callback(lambda _: self._children.discard(lifeline))
        try:
            ctrl = await asyncio.open_unix_connection(sock=ours)
        except BaseException:
            lifeline.kill()
            output.close()
            ours.close()
            raise
        handle = ProcessHandle(proc.pid, ctrl, output, lifeline, self.limits.memory_mib)
        await handle.greet(START_TIMEOUT_S)
        return handle

    async def close(self) -> None:
        children = list(self._children)
        for child in children:
            child.kill()
        if children:
            await asyncio.wait([asyncio.shield(child.exited) for child in children], timeout=5)
        if self._home is not None:
            home, self._home = self._home, None
            await asyncio.to_thread(shutil.rmtree, home, ignore_errors=True)

    def _ensure_home(self) -> Path:
        if self._home is None:
            self._home = make_home(self._root)
            (self._home / "mplconfig").mkdir()
        return self._home
