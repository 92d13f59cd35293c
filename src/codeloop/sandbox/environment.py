"""The one environment a session process starts with: a fixed set of variables, nothing of the server's."""

from __future__ import annotations

import os

__all__ = ["SYSTEM_PATH", "session_env", "with_bindir"]

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# One BLAS thread: fork() is only safe in a single-threaded process, and a session has one core.
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def session_env(*, home: str, mplconfig: str, path: str, isolated: bool) -> dict[str, str]:
    """Every variable a session process sees. Isolated sessions also get a private /tmp, no pip
    index (there is no network: pip fails at once instead of retrying for a minute) and one
    BLAS thread."""
    env = {
        "PATH": path,
        "LANG": "C.UTF-8",
        "HOME": home,
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": mplconfig,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if isolated:
        env |= {
            "TMPDIR": "/tmp",
            "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            **dict.fromkeys(_THREAD_VARS, "1"),
        }
    return env


def with_bindir(python: str, path: str) -> str:
    """path with python's bin dir first, so that `python` and `pip` in a shell mean the session's."""
    bindir = os.path.dirname(python)
    if not bindir or bindir in path.split(os.pathsep):
        return path
    return bindir + os.pathsep + path
