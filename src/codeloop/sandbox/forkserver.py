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
from pathlib import Path
from typing import Any

from codeloop.errors import SandboxFailure
from codeloop.sandbox.environment import SYSTEM_PATH, session_env
from codeloop.sandbox.handle import ProcessHandle
from codeloop.sandbox.homes import make_home
from codeloop.sandbox.isolation import filesystem
from codeloop.sandbox.limits import Limits, SandboxConfig
from codeloop.sandbox.shell import ShellSandbox
from codeloop.sandbox.zygote_client import ZygoteClient, start_session

__all__ = ["ForkSandbox", "ZygoteLauncher"]

log = logging.getLogger("codeloop.sandbox")
# How long a session start that failed waits to learn whether its zygote died (then it retries on the
# replacement) or not (then the failure stands).
ZYGOTE_DEATH_GRACE_S = 1.0


class ForkSandbox(ShellSandbox):
    """Sessions forked by one or more zygotes, round robin."""

    def _make_launcher(self, python: str, root: str | os.PathLike[str] | None) -> ZygoteLauncher:
        return ZygoteLauncher(self.limits, self.config, python, root)

    @property
    def zygote_pids(self) -> list[int]:
        assert isinstance(self.launcher, ZygoteLauncher)
        return self.launcher.pids


class ZygoteLauncher:
    """Starts the zygotes; has them fork interpreters. A dead zygote is replaced once, however many
    sessions find it dead at the same moment, and they all wait for that one replacement."""

    def __init__(
        self, limits: Limits, config: SandboxConfig, python: str, root: str | os.PathLike[str] | None
    ) -> None:
        self.limits = limits
        self.config = config
        self.python = python
        self._root = root
        self._home: Path | None = None
        self._zygotes: list[ZygoteClient] = []
        self._replacing: dict[int, asyncio.Task[ZygoteClient]] = {}
        self._closed = False

    @property
    def pids(self) -> list[int]:
        return [zygote.proc.pid for zygote in self._zygotes]

    async def start(self) -> None:
        self._closed = False
        for _ in range(max(1, self.config.zygotes)):
            self._zygotes.append(await self._start_zygote())

    def new_workdir(self) -> None:
        """Each session's working dir is a tmpfs in its own mount namespace."""

    def remove_workdir(self, workdir: Path) -> None:
        """Never called: there is no working dir on the host to remove."""

    async def launch(self, number: int, workdir: Path | None) -> ProcessHandle:
        """An interpreter forked by the zygote; if the zygote dies meanwhile, one from its replacement."""
        request = self._request(number)
        zygote = await self._live_zygote(number)
        try:
            return await start_session(zygote, request, self.limits.memory_mib)
        except SandboxFailure:
            if await zygote.death_within(ZYGOTE_DEATH_GRACE_S) is None:
                raise
        return await start_session(await self._live_zygote(number), request, self.limits.memory_mib)

    async def close(self) -> None:
        self._closed = True
        replacing = list(self._replacing.values())
        for task in replacing:
            task.cancel()
        await asyncio.gather(*replacing, return_exceptions=True)
        zygotes, self._zygotes = self._zygotes, []
        await asyncio.gather(*(z.close() for z in zygotes))
        if self._home is not None:
            home, self._home = self._home, None
            await asyncio.to_thread(shutil.rmtree, home, ignore_errors=True)

    async def _live_zygote(self, number: int) -> ZygoteClient:
        """The zygote that forks interpreter number, round robin; a replacement if it died."""
        if self._closed or not self._zygotes:
            raise SandboxFailure("the sandbox is closed")
        index = number % len(self._zygotes)
        zygote = self._zygotes[index]
        if zygote.alive:
            return zygote
        task = self._replacing.get(index)
        if task is None:
            task = asyncio.create_task(self._replace(index, zygote))
            self._replacing[index] = task
        # Shielded: one waiter going away must not cancel the start the others wait for.
        return await asyncio.shield(task)

    async def _replace(self, index: int, dead: ZygoteClient) -> ZygoteClient:
        try:
            await dead.close()
            log.warning("sandbox: zygote %d %s; starting a new one", dead.proc.pid, dead.death())
            zygote = await self._start_zygote()
            if self._closed:
                await zygote.close()
                raise SandboxFailure("the sandbox is closed")
            self._zygotes[index] = zygote
        finally:
            del self._replacing[index]
        return zygote

    async def _start_zygote(self) -> ZygoteClient:
        home = self._ensure_home()
        config = {
            "preload": list(self.config.preload),
            "cgroups": self.config.cgroups,
            "new_root": str(home / "root"),
            "home": str(home),
            "mplconfig": str(home / "mplconfig"),
        }
        return await ZygoteClient.start(self.python, config, _ZYGOTE_ENV)

    def _request(self, number: int) -> dict[str, Any]:
        uid = self.config.uid_base + number % self.config.uid_count
        limits = self.limits
        return {
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

    def _ensure_home(self) -> Path:
        if self._home is None:
            self._home = make_home(self._root)
            (self._home / "mplconfig").mkdir()
            (self._home / "root").mkdir()
        return self._home


# The zygote's whole environment, and so every session's: each session's /proc/self/environ shows
# it as it was at exec, so it names nothing of the host. The zygote itself preloads with the
# host paths its config gives, and sets the session's (this, with its Python first on PATH) back.
_ZYGOTE_ENV = session_env(
    home=filesystem.WORKDIR, mplconfig="/tmp/matplotlib", path=SYSTEM_PATH, isolated=True
)
