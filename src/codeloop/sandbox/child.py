"""The session process: one persistent interpreter running the blocks the server sends it.

Forked by zygote.py, which isolates the process and then calls serve(); or, on the
--insecure-no-sandbox path, started by process.py as `python -I -B -u child.py <fd> <pid>`
in the session's working dir. Either way fds 1 and 2 are the server's output pipe, so prints,
os.system and C-level writes all reach it in order without passing through here; <fd> is the
protocol socket, which user code never sees as stdout. This module imports only the stdlib:
protocol.py is loaded by path, because importing the codeloop package would pull in google.genai.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import faulthandler
import importlib.machinery
import io
import json
import linecache
import mimetypes
import os
import resource
import stat
import sys
import tempfile
import time
import traceback
import types
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codeloop.sandbox import protocol

# Types the system's mime.types may lack (the sandbox sees only part of /etc).
_MIME_TYPES = {
    ".py": "text/x-python",
    ".csv": "text/csv",
    ".md": "text/markdown",
    ".json": "application/json",
}
# Bound the per-block scan of the working dir, whatever user code wrote there.
MAX_SCAN_ENTRIES = 10_000
# How tracebacks name user code, as `python -c` does; each block is compiled under its
# own name so that linecache finds the right source for functions from earlier blocks.
DISPLAY_NAME = "<string>"
# Room for _tail's marker; and no character takes more than 12 bytes in JSON (two \u escapes).
_MARKER_BYTES = 64
_MAX_ESCAPED_CHAR = 12
_PR_SET_PDEATHSIG = 1
_SIGKILL = 9
_SELF = frozenset({__file__, os.path.abspath(__file__)})


def _load_protocol() -> types.ModuleType:
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "protocol.py")
    spec = importlib.util.spec_from_file_location("_codeloop_sandbox_protocol", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if not TYPE_CHECKING:
    protocol = _load_protocol()


class Interpreter:
    """The session's state: one __main__ namespace shared by every block."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.pid = os.getpid()
        self.main = types.ModuleType("__main__")
        self.main.__dict__["__builtins__"] = builtins
        self.blocks = 0
        self.block_names: set[str] = set()
        self.figures: list[bytes] = []
        self.errors: list[str] = []  # what went wrong collecting results: the block failed
        self.notes: list[str] = []  # what could not be returned: said, but the block still ran well

    def install(self) -> None:
        """Make the process look like a REPL to user code, and pyplot render inline."""
        # User code is __main__, so pickle, dataclasses and `if __name__ == "__main__"` work.
        sys.modules["__main__"] = self.main
        sys.argv = [""]
        sys.path.insert(0, "")
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:  # preloaded by the zygote: the import hook would come too late
            setattr(plt, "show", self._make_show())  # noqa: B010
        else:
            sys.meta_path.insert(0, _PyplotHook(self._make_show))
        # fig.show() on Agg: harmless here, figures are returned anyway.
        non_gui = (
            r"(FigureCanvas\w* is non-interactive|Matplotlib is currently using \w+, which is a non-GUI)"
        )
        warnings.filterwarnings("ignore", message=non_gui, category=UserWarning)

    def run(self, code: str, output_bytes: int) -> dict[str, Any]:
        self.blocks += 1
        self.figures, self.errors, self.notes = [], [], []
        before = _snapshot(self.workdir)
        meter = _Meter()
        ok, trailer = self._execute(code)
        stats = meter.stop()
        files: list[dict[str, str]] = []
        try:
            self.capture_figures()
            files = self._files(before)
            _repair_std_streams()
        except BaseException as exc:  # our own post-processing must never kill the session
            self.errors.append("Error collecting the block's results:\n" + self.format_exception(exc))
        if self.errors:
            ok = False
        trailer += "".join(self.errors + self.notes)
        return {
            "type": "result",
            "ok": ok,
            "trailer": _tail(trailer, output_bytes),
            "files": files,
            "stats": stats,
        }

    def _execute(self, code: str) -> tuple[bool, str]:
        name = f"<block-{self.blocks}>"
        self.block_names.add(name)
        lines = code.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"  # as linecache does for files; traceback carets are off by one without
        linecache.cache[name] = (len(code), None, lines, name)
        ok, trailer = True, ""
        try:
            # dont_inherit: this module's `from __future__ import annotations` is not the user's.
            exec(compile(code, name, "exec", dont_inherit=True), self.main.__dict__)
        except SystemExit as exc:
            if exc.code is not None and exc.code != 0:
                ok, trailer = False, f"SystemExit: {exc.code}\n"
        except BaseException as exc:
            ok, trailer = False, self.format_exception(exc)
        if os.getpid() != self.pid:
            # A fork of user code fell out of exec: it must not answer the server as us.
            sys.stderr.write(trailer)
            _flush_std_streams()
            os._exit(0 if ok else 1)
        return ok, trailer

    def format_exception(self, exc: BaseException) -> str:
        """The REPL's traceback, minus this module's frames, with blocks named DISPLAY_NAME."""
        try:
            te = traceback.TracebackException.from_exception(exc, compact=True)
            self._scrub(te, set())
            lines = list(te.format())
            if lines and (hint := _suggestion(exc)):
                lines[-1] = f"{lines[-1].rstrip()}. {hint}\n"
            return "".join(lines)
        except Exception as err:  # e.g. a hostile __getattr__ on the exception's class
            return f"{type(exc).__qualname__} (its traceback could not be formatted: {type(err).__name__})\n"

    def _scrub(self, te: traceback.TracebackException, seen: set[int]) -> None:
        if id(te) in seen:
            return
        seen.add(id(te))
        # Source lines were looked up at construction, so renaming frames loses nothing.
        te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename not in _SELF])
        for frame in te.stack:
            if frame.filename in self.block_names:
                frame.filename = DISPLAY_NAME
        if getattr(te, "filename", None) in self.block_names:  # SyntaxError
            te.filename = DISPLAY_NAME
        for nested in (te.__cause__, te.__context__, *(getattr(te, "exceptions", None) or ())):
            if nested is not None:
                self._scrub(nested, seen)

    def _make_show(self) -> Callable[..., None]:
        """pyplot.show for the session: a plain function, as matplotlib sets its __signature__."""

        def show(*args: object, **kwargs: object) -> None:
            self.capture_figures()

        return show

    def capture_figures(self) -> None:
        """Render every open pyplot figure, then close them all, as a notebook's show() does."""
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        try:
            for num in plt.get_fignums():
                buf = io.BytesIO()
                try:
                    plt.figure(num).savefig(buf, format="png", bbox_inches="tight")
                except Exception as exc:
                    self.errors.append(f"Error rendering figure {num}:\n" + self.format_exception(exc))
                else:
                    self.figures.append(buf.getvalue())
        finally:
            plt.close("all")

    def _files(self, before: dict[str, tuple[int, int]]) -> list[dict[str, str]]:
        """Figures first, then every file this block wrote or changed in the working dir, within
        the limits the server holds every result to (protocol.py)."""
        budget = protocol.FILE_BUDGET
        out: list[dict[str, str]] = []

        def add(name: str, mime_type: str, data: bytes) -> None:
            nonlocal budget
            name = _clean(name)
            if problem := protocol.name_problem(name):
                self.notes.append(f"[{protocol.shown(name)} not returned: its name {problem}]\n")
                return
            if len(data) > budget:
                self.notes.append(f"[{name} not returned: {len(data)} bytes is over the size limit]\n")
                return
            budget -= len(data)
            encoded = base64.b64encode(data).decode("ascii")
            out.append({"name": name, "mime_type": mime_type, "data": encoded})

        figures = self.figures[: protocol.MAX_FIGURES]
        for i, png in enumerate(figures, start=1):
            add(f"figure_{i}.png", "image/png", png)
        if len(self.figures) > len(figures):
            self.notes.append(f"[{len(self.figures) - len(figures)} more figures not returned]\n")
        after = _snapshot(self.workdir)
        changed = sorted(rel for rel, stamp in after.items() if before.get(rel) != stamp)
        for rel in changed[: protocol.MAX_FILES]:
            try:
                with open(os.path.join(self.workdir, rel), "rb") as f:
                    data = f.read(budget + 1)
            except OSError:
                continue
            add(rel, _mime_type(rel), data)
        if len(changed) > protocol.MAX_FILES:
            self.notes.append(f"[{len(changed) - protocol.MAX_FILES} more new files not returned]\n")
        return out


class _PyplotHook:
    """An import hook that swaps pyplot.show for ours, so show() renders inline and never blocks."""

    def __init__(self, make_show: Callable[[], Callable[..., None]]) -> None:
        self.make_show = make_show

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "matplotlib.pyplot":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        loader = spec.loader if spec is not None else None
        if loader is None:
            return spec
        exec_module = loader.exec_module
        make_show = self.make_show

        def exec_and_patch(module: types.ModuleType) -> None:
            exec_module(module)
            setattr(module, "show", make_show())  # noqa: B010  (mypy: ModuleType has no show)

        setattr(loader, "exec_module", exec_and_patch)  # noqa: B010  (mypy: no assigning to methods)
        return spec


def _snapshot(root: str) -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of every file under root, skipping dot-files, caches and symlinks."""
    found: dict[str, tuple[int, int]] = {}
    pending, budget = [root], MAX_SCAN_ENTRIES
    while pending and budget > 0:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries[:budget]:
            budget -= 1
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    found[os.path.relpath(entry.path, root)] = (st.st_mtime_ns, st.st_size)
            except OSError:
                continue
    return found


def _mime_type(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    guess = _MIME_TYPES.get(ext) or mimetypes.guess_type(name, strict=False)[0]
    return guess if guess and not protocol.mime_problem(guess) else "application/octet-stream"


class _Meter:
    """What one block cost: CPU (its subprocesses' too, once reaped), wall time, peak memory."""

    def __init__(self) -> None:
        # Resetting the high-water mark makes VmHWM this block's peak, not the session's. Raw fds, here
        # and in _peak_rss: a buffered file object costs more than the rest of a trivial block's round trip.
        try:
            fd = os.open("/proc/self/clear_refs", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"5")
            finally:
                os.close(fd)
        except OSError:
            pass  # then the peak is the session's so far
        self._cpu = _cpu_seconds()
        self._wall = time.perf_counter()

    def stop(self) -> dict[str, float | int]:
        return {
            "cpu_ms": round((_cpu_seconds() - self._cpu) * 1000, 3),
            "wall_ms": round((time.perf_counter() - self._wall) * 1000, 3),
            "peak_memory_bytes": _peak_rss(),
        }


def _cpu_seconds() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _peak_rss() -> int:
    try:
        fd = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
        try:
            status = os.read(fd, 1 << 14)
        finally:
            os.close(fd)
        start = status.index(b"\nVmHWM:") + 7
        return int(status[start : status.index(b"kB", start)]) * 1024
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _clean(text: str) -> str:
    """Valid UTF-8 whatever user code produced (lone surrogates would break the frame)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _suggestion(exc: BaseException) -> str | None:
    """Python 3.12's hint for a misspelt name ("Did you mean: 'total'?"), which 3.11 prints only
    from the interpreter's own excepthook: models fix a typo at once when they are shown it."""
    try:
        return _suggest(exc)
    except Exception:  # the object's own __dir__ may fail: no hint then, the traceback stands
        return None


def _suggest(exc: BaseException) -> str | None:
    name = getattr(exc, "name", None)
    if not isinstance(name, str) or not isinstance(exc, NameError | AttributeError):
        return None
    if isinstance(exc, AttributeError):
        candidates = dir(exc.obj)
    else:
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is None:
            return None
        frame = tb.tb_frame
        candidates = [*frame.f_locals, *frame.f_globals, *dir(builtins)]
        if name in sys.stdlib_module_names:
            return f"Did you forget to import '{name}'?"
    import difflib

    names = [c for c in candidates if isinstance(c, str) and c != name]
    close = [c for c in names if c.lower() == name.lower()] or difflib.get_close_matches(name, names, 1, 0.75)
    return f"Did you mean: '{close[0]}'?" if close else None


def _tail(text: str, limit: int) -> str:
    """The end of text within limit bytes of UTF-8, and within the wire's MAX_TRAILER_BYTES as it
    travels, JSON-escaped: a traceback's last lines are the ones that matter."""
    room = protocol.MAX_TRAILER_BYTES - _MARKER_BYTES
    limit = min(limit, room)
    data = text.encode("utf-8", "replace")
    kept = data[-limit:].decode("utf-8", "ignore") if len(data) > limit else data.decode("utf-8")
    if len(json.dumps(kept)) > room:  # control characters: six bytes each once escaped
        kept = kept[-(room // _MAX_ESCAPED_CHAR) :]
    hidden = len(data) - len(kept.encode("utf-8"))
    return f"[{hidden} bytes of traceback not shown]\n{kept}" if hidden else kept


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass  # closed or replaced by user code: nothing of ours to lose


def _repair_std_streams() -> None:
    """Undo `exit()` closing stdin and friends, so later blocks (and fd numbers) stay sane."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        stream = getattr(sys, name)
        if stream is not None and not getattr(stream, "closed", False):
            continue
        try:
            os.fstat(fd)
        except OSError:
            dev = os.open(os.devnull, os.O_RDWR)
            if dev != fd:
                os.dup2(dev, fd)
                os.close(dev)
        if mode == "r":
            stream = open(fd, encoding="utf-8", closefd=False)  # noqa: SIM115
        else:  # unbuffered, as under -u, so prints interleave with subprocess output
            raw = open(fd, "wb", buffering=0, closefd=False)  # noqa: SIM115
            stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
        setattr(sys, name, stream)


def _die_with_server(server_pid: int) -> None:
    """Have the kernel SIGKILL us when the server dies, then check it is not already gone."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: close() still kills us, only a crashed server would leak us
    if os.getppid() != server_pid:
        os._exit(1)


def serve(fd: int) -> int:
    """Answer the server's requests on fd until it hangs up: the session's whole life."""
    faulthandler.enable()  # a segfault in user C code then leaves a trace in the block's output
    interpreter = Interpreter(os.getcwd())
    interpreter.install()
    protocol.write_message(fd, {"type": "ready", "pid": os.getpid()})
    while (request := protocol.read_message(fd)) is not None:
        kind = request.get("type")
        if kind == "run":
            reply = interpreter.run(str(request["code"]), int(request["output_bytes"]))
        elif kind == "put":
            reply = _put_file(
                interpreter.workdir, str(request["name"]), str(request["data"]), bool(request.get("append"))
            )
        else:
            raise protocol.ProtocolError(f"unexpected request {kind!r}")
        reply["id"] = request.get("id")
        _flush_std_streams()  # everything printed must be in the pipe before the server hears "done"
        protocol.write_message(fd, reply)
    return 0


def _put_file(workdir: str, name: str, data: str, append: bool) -> dict[str, Any]:
    """Stage (a piece of) an input file in the working dir under its own name: no dirs, no way out.

    An earlier block may have left anything under that name: a symlink, a FIFO that would block
    an open() for writing until someone reads it, a directory. The first piece therefore goes into
    a new file renamed over the name, and later pieces only append to a regular file."""
    base = os.path.basename(name)
    if base in ("", ".", "..") or base != name:
        return {"type": "put", "ok": False, "error": f"not a plain file name: {name!r}"}
    path = os.path.join(workdir, base)
    try:
        content = base64.b64decode(data)
        if append:
            _append_to(path, content)
        else:
            _replace(workdir, path, content)
    except (OSError, ValueError) as exc:
        return {"type": "put", "ok": False, "error": str(exc)}
    return {"type": "put", "ok": True}


def _replace(workdir: str, path: str, content: bytes) -> None:
    fd, staging = tempfile.mkstemp(dir=workdir, prefix=".staging-")  # a dot-file: never a result
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(content)
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staging)
        raise


def _append_to(path: str, content: bytes) -> None:
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    with os.fdopen(os.open(path, flags), "wb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{os.path.basename(path)} is no longer a regular file")
        f.write(content)


def main(argv: list[str]) -> int:
    fd, server_pid = int(argv[1]), int(argv[2])
    _die_with_server(server_pid)
    os.set_inheritable(fd, False)  # pass_fds made it inheritable; os.system children must not get it
    return serve(fd)


if __name__ == "__main__":
    _status = main(sys.argv)
    _flush_std_streams()
    os._exit(_status)  # skip joining threads user code left running
