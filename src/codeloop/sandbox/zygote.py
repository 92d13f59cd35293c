"""The zygote: imports the scientific stack once, then forks one isolated session per request.

Started by zygote_client.py as `python -I -B -u zygote.py <fd>`, where <fd> is a SOCK_SEQPACKET
socket. Its first message is the config (the server's pid among it: nothing of the host's goes
on the command line, which every session inherits as /proc/1/cmdline). Each later message is
one spawn request, with the session's three fds attached (its protocol socket, its output
pipe, its keeper socket). For each request:

    zygote ──fork──> keeper   joins the session's cgroup, unshares the namespaces, forks:
                       └──fork──> session (pid 1 of its own pid namespace): builds its filesystem
                                  view, drops to an unprivileged uid in a new user namespace,
                                  sets rlimits and seccomp, then serves blocks (child.py)

The keeper reports the session's pid and exit status on the keeper socket and kills it when
the server asks, or hangs up. When pid 1 of a pid namespace dies the kernel kills every other
process in it, so one kill ends the whole tree, daemons and setsid() included. Each process
gets SIGKILL when its parent dies (server → zygote → keeper → session).

Stays single-threaded (fork() is only safe then), and imports only the stdlib, child.py and
the isolation package, all loaded by path: the codeloop package would pull in google.genai.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import json
import os
import random
import select
import signal
import socket
import sys
import traceback
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codeloop.sandbox import child, protocol
    from codeloop.sandbox.isolation import cgroups, filesystem, namespaces, rlimits, seccomp

HERE = os.path.dirname(os.path.abspath(__file__))
CGROUP_PREFIX = "codeloop-"
MAX_REQUEST_BYTES = 1 << 16
MAX_CONFIG_BYTES = 1 << 20
_SIGKILL = 9


def _load(name: str, path: str, package_dir: str | None = None) -> types.ModuleType:
    locations = [package_dir] if package_dir is not None else None
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=locations)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if not TYPE_CHECKING:
    child = _load("_codeloop_sandbox_child", os.path.join(HERE, "child.py"))
    _isolation_dir = os.path.join(HERE, "isolation")
    _load("_codeloop_isolation", os.path.join(_isolation_dir, "__init__.py"), _isolation_dir)
    cgroups = importlib.import_module("_codeloop_isolation.cgroups")
    filesystem = importlib.import_module("_codeloop_isolation.filesystem")
    namespaces = importlib.import_module("_codeloop_isolation.namespaces")
    rlimits = importlib.import_module("_codeloop_isolation.rlimits")
    seccomp = importlib.import_module("_codeloop_isolation.seccomp")
    protocol = child.protocol


class Zygote:
    def __init__(self, sock: socket.socket, config: dict[str, Any]) -> None:
        self.sock = sock
        self.config = config
        self.pid = os.getpid()
        self.privileged = namespaces.initial_root()
        self.cgroup_version = 0
        self.cgroup_bases: dict[str, str] = {}
        self.warnings: list[str] = []

    def prepare(self) -> None:
        # The Python installs this interpreter runs from are all a session sees of the host's files.
        self.config["readonly"] = filesystem.readonly_paths([sys.base_prefix, sys.prefix, sys.exec_prefix])
        # The zygote started with the sessions' environment; it preloads with host dirs of its own.
        env = self.config["env"] = dict(os.environ)
        env["PATH"] = os.path.dirname(sys.executable) + ":" + env["PATH"]
        os.environ.update(HOME=self.config["home"], MPLCONFIGDIR=self.config["mplconfig"])
        for name in self.config["preload"]:
            try:
                importlib.import_module(name)
            except Exception as exc:  # a missing optional library must not take the sandbox down
                self.warnings.append(f"preloading {name} failed: {type(exc).__name__}: {exc}")
        if self.config["cgroups"]:
            self.cgroup_version, self.cgroup_bases = cgroups.base_dirs(f"{CGROUP_PREFIX}{self.pid}")
            cgroups.sweep(self.cgroup_bases, CGROUP_PREFIX)
            if not self.cgroup_bases:
                self.warnings.append("no cgroup could be created: sessions are limited by rlimits only")
        seccomp.programs()  # built once, here: sessions inherit the programs and only install them
        threads = len(os.listdir("/proc/self/task"))
        if threads != 1:
            raise RuntimeError(f"the zygote runs {threads} threads after preloading; fork() would be unsafe")
        # Keep the preloaded objects out of the collector's reach: a collection in a session would
        # otherwise write to (and so copy) every page holding them.
        gc.collect()
        gc.freeze()

    def serve(self) -> None:
        protocol_ready = {
            "type": "ready",
            "pid": self.pid,
            "cgroup": self.cgroup_version,
            "warnings": self.warnings,
        }
        self.sock.sendall(json.dumps(protocol_ready).encode())
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(self.sock, MAX_REQUEST_BYTES, 3)
            except InterruptedError:
                continue
            if not message:
                break
            if len(fds) != 3:
                for fd in fds:
                    os.close(fd)
                continue
            request = json.loads(message)
            try:
                pid = os.fork()
            except OSError:  # no process to be had: closing its fds tells the server
                pid = -1
            if pid == 0:
                Keeper(self, request, *fds).run()  # never returns
            for fd in fds:
                os.close(fd)
        # The server hung up, after hanging up on every session: let their keepers clean up first.
        with contextlib.suppress(ChildProcessError):
            while True:
                os.wait()
        cgroups.remove_base(self.cgroup_bases)


class Keeper:
    """Between zygote and session: owns the session's cgroup, reports its pid and how it ended."""

    def __init__(self, zygote: Zygote, request: dict[str, Any], ctrl: int, out: int, keep: int) -> None:
        self.zygote = zygote
        self.request = request
        self.ctrl, self.out, self.keep = ctrl, out, keep

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            _report(self.keep, {"type": "error", "message": _describe(exc)})
            os._exit(1)
        os._exit(0)

    def _run(self) -> None:
        namespaces.die_with_parent()
        if os.getppid() != self.zygote.pid:
            os._exit(1)
        self.zygote.sock.close()
        namespaces.set_title("codeloop-keeper")
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        limits = self.request["limits"]
        cgroup_mib = limits["memory_mib"] + limits["disk_mib"]  # its tmpfs files are charged to it too
        group = None
        warnings = list(self.zygote.warnings)
        if self.zygote.cgroup_bases:
            try:
                group = cgroups.join(
                    self.zygote.cgroup_version,
                    self.zygote.cgroup_bases,
                    f"s{self.request['id']}",
                    cgroup_mib,
                    limits["pids"],
                    limits["cpus"],
                )
            except OSError as exc:
                warnings.append(f"cgroup not set up ({exc}): rlimits only")
        if not self.zygote.privileged:  # the user namespace first: it grants the rights for the rest
            namespaces.map_user(os.geteuid(), os.getegid())
        namespaces.unshare(namespaces.KEEPER_NAMESPACES)
        namespaces.die_with_parent()  # again: entering a user namespace cleared it
        if os.getppid() != self.zygote.pid:
            os._exit(1)
        life_r, life_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(life_w)
            os.close(self.keep)
            session = Session(self.zygote, self.request, self.ctrl, self.out, life_r)
            session.run(in_cgroup=group is not None)  # never returns
        os.close(life_r)
        os.close(self.ctrl)
        os.close(self.out)
        usage = cgroups.usage_file(group)
        started = {
            "type": "started",
            "pid": pid,
            "warnings": warnings,
            "memory": usage,
            "memory_limit": cgroup_mib << 20 if usage is not None else None,
        }
        protocol.write_message(self.keep, started)
        pidfd = os.pidfd_open(pid)
        watched = [self.keep, pidfd]
        while True:
            ready, _, _ = select.select(watched, [], [])
            if pidfd in ready:
                break
            try:
                data = os.read(self.keep, 64)
            except OSError:
                data = b""
            if not data:  # the server hung up: nobody will ever talk to this session again
                watched.remove(self.keep)
            os.kill(pid, _SIGKILL)
        _, status = os.waitpid(pid, 0)
        oom = group is not None and cgroups.oom_killed(group)
        _report(self.keep, {"type": "exited", "status": status, "oom": oom})
        if group is not None:
            cgroups.remove(group)
        os.close(life_w)


class Session:
    """pid 1 of the session's namespaces: isolate, then serve blocks."""

    def __init__(self, zygote: Zygote, request: dict[str, Any], ctrl: int, out: int, life: int) -> None:
        self.zygote = zygote
        self.request = request
        self.ctrl, self.out, self.life = ctrl, out, life

    def run(self, in_cgroup: bool) -> None:
        try:
            self._isolate(in_cgroup)
        except BaseException as exc:
            _report(self.ctrl, {"type": "error", "message": _describe(exc)})
            os._exit(1)
        os._exit(child.serve(self.ctrl))

    def _isolate(self, in_cgroup: bool) -> None:
        config, request, limits = self.zygote.config, self.request, self.request["limits"]
        uid, gid = request["uid"], request["gid"]
        owner = (uid, gid) if self.zygote.privileged else None
        mplconfig = None if "matplotlib" in sys.modules else config["mplconfig"]
        namespaces.unshare(namespaces.CLONE_NEWNS)
        filesystem.build_root(config["new_root"], config["readonly"], limits["disk_mib"], owner, mplconfig)
        namespaces.sethostname("sandbox")
        if self.zygote.privileged:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            namespaces.prctl(namespaces.PR_SET_DUMPABLE, 1)  # else /proc/self/uid_map stays root's
            namespaces.map_user(uid, gid)
        else:
            namespaces.map_user(0, 0)
        namespaces.drop_capabilities()
        # With a cgroup counting real memory, the address space limit only stops absurd mappings
        # (libraries reserve far more than they touch); without one, it is the memory limit.
        memory = limits["memory_mib"]
        address_space = memory * 4 + 1024 if in_cgroup else memory
        rlimits.apply(address_space, limits["pids"], limits["file_mib"], limits["open_files"])
        os.chdir(filesystem.WORKDIR)
        os.environ.clear()
        os.environ.update(config["env"])
        namespaces.set_title("python3")
        # Host dirs that are not in this view (an editable install's source dir) only name the host.
        sys.path[:] = [p for p in sys.path if p and os.path.exists(p)]
        # Only now: every change of credentials above cleared the parent-death signal.
        namespaces.die_with_parent()
        if select.select([self.life], [], [], 0)[0]:  # EOF: the keeper died before we could notice
            os._exit(1)
        self._arrange_fds()
        seccomp.install()
        # The zygote's generators were seeded once; every session must draw its own numbers.
        random.seed()
        numpy_random = sys.modules.get("numpy.random")
        if numpy_random is not None:
            numpy_random.seed()

    def _arrange_fds(self) -> None:
        """0 is /dev/null, 1 and 2 the output pipe, ctrl stays; nothing else of the zygote's."""
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(self.out, 1)
        os.dup2(self.out, 2)
        keep = {0, 1, 2, self.ctrl}
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd not in keep:
                with contextlib.suppress(OSError):  # the listing's own fd, already closed
                    os.close(fd)
        os.set_inheritable(self.ctrl, False)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return str(exc)
    return "".join(traceback.format_exception_only(exc)).strip()


def _report(fd: int, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # the server is gone: nobody left to tell
        protocol.write_message(fd, message)


def main(argv: list[str]) -> int:
    namespaces.die_with_parent()
    sock = socket.socket(fileno=int(argv[1]))
    sock.set_inheritable(False)
    message = sock.recv(MAX_CONFIG_BYTES)
    if not message:
        return 1
    config = json.loads(message)
    if os.getppid() != config["server_pid"]:  # the server died before we could notice
        return 1
    namespaces.set_title("codeloop-zygote")
    sys.orig_argv[:] = ["python3"]  # as /proc/1/cmdline says: the zygote's own argv named the host
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped by the kernel
    zygote = Zygote(sock, config)
    try:
        zygote.prepare()
    except BaseException as exc:
        sock.sendall(json.dumps({"type": "error", "message": _describe(exc)}).encode())
        return 1
    zygote.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
