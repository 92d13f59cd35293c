"""The server's disk filling up, turned into the error tree's DiskFull where files are written."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from codeloop.errors import DiskFull

_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


@contextmanager
def map_disk_full() -> Iterator[None]:
    """A full disk or an exhausted disk quota becomes DiskFull (503); other OS errors pass unchanged."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _FULL:
            raise
        raise DiskFull(
            "The server's disk is full: the file could not be stored. Try again once space has been freed."
        ) from exc
