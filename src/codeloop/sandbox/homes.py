"""A sandbox's private dir under the temp dir, named after the server's pid, so that the dirs of
servers that died without cleaning up (SIGKILL, power loss) are removed by the next one."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

PREFIX = "codeloop-sandbox-"
_OWNED = re.compile(re.escape(PREFIX) + r"(\d+)-")


def make_home(root: str | os.PathLike[str] | None = None) -> Path:
    """A new private dir; first, those left behind by servers that are gone."""
    base = Path(root or tempfile.gettempdir())
    remove_orphans(base)
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base))


def remove_orphans(base: Path) -> int:
    removed = 0
    try:
        entries = list(os.scandir(base))
    except OSError:
        return 0
    for entry in entries:
        owner = _OWNED.match(entry.name)
        if owner is None or _alive(int(owner[1])) or not entry.is_dir(follow_symlinks=False):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's
    return True
