"""Saving files that code returned into a local dir: names made safe, nothing written outside the dir.

The names come from code the user did not write (a model's, or a server's answer), so each is treated
as hostile: reduced to relative components without control characters, dots or `..`, and written by
walking the dir with file descriptors that never follow a symlink. What cannot be made safe is
refused with a reason, never written somewhere else.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

MAX_NAME_CHARS = 4096  # Linux's PATH_MAX: no legitimate name is longer
MAX_DEPTH = 32
COMPONENT_BYTES = 255  # Linux's NAME_MAX
_KEPT_SUFFIX = 16  # an extension this short survives the shortening of a long name
# Controls (NUL, CR, escape), format characters (bidi overrides), lone surrogates, private use,
# unassigned code points and line separators: none belongs in a file name shown on a terminal.
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NO_FOLLOW_DIR = _DIR_FLAGS | os.O_NOFOLLOW
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Saved:
    """Where a file went (path), or None with the reason it was refused (note); a renamed one has both."""

    path: Path | None
    note: str | None = None


class _Refused(Exception):
    pass


def safe_parts(name: str) -> tuple[str, ...]:
    """The name as components that are safe to create: `.`, `..` and empty ones dropped, unsafe
    characters replaced by `_`, a leading dot made `_.` (no hidden config files), each one shortened
    to NAME_MAX bytes."""
    parts = []
    for part in name.split("/"):
        if part in ("", ".", ".."):
            continue
        cleaned = "".join("_" if unicodedata.category(char) in _UNSAFE else char for char in part)
        if cleaned.startswith("."):
            cleaned = "_" + cleaned
        parts.append(_shortened(cleaned))
    return tuple(parts)


def save_file(root: Path, name: str, data: bytes) -> Saved:
    """Write data under root at the safe form of name, replacing a regular file there (atomically)."""
    if len(name) > MAX_NAME_CHARS:
        return Saved(None, f"the name has {len(name)} characters, over {MAX_NAME_CHARS}")
    parts = safe_parts(name)
    if not parts:
        return Saved(None, "no part of the name can be used as a file name")
    if len(parts) > MAX_DEPTH:
        return Saved(None, f"the name is nested {len(parts)} dirs deep, over {MAX_DEPTH}")
    relative = "/".join(parts)
    try:
        root.mkdir(parents=True, exist_ok=True)
        dir_fd = os.open(root, _DIR_FLAGS)  # root is the user's choice: it may be a symlink
        try:
            for depth, part in enumerate(parts[:-1], start=1):
                inner = _enter(dir_fd, part, "/".join(parts[:depth]))
                os.close(dir_fd)
                dir_fd = inner
            _replace(dir_fd, parts[-1], data, relative)
        finally:
            os.close(dir_fd)
    except _Refused as refused:
        return Saved(None, str(refused))
    except OSError as exc:
        return Saved(None, f"{relative}: {exc.strerror}")
    return Saved(root / relative, None if relative == name else "its name was made safe")


def _enter(dir_fd: int, part: str, shown: str) -> int:
    """The fd of the dir `part` in dir_fd, made if missing; a symlink there is refused."""
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, dir_fd=dir_fd)
        return os.open(part, _NO_FOLLOW_DIR, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _Refused(f"{shown} is a symlink or not a dir") from None
        raise


def _replace(dir_fd: int, part: str, data: bytes, shown: str) -> None:
    """Write a new file beside the target, then rename it over: a symlink put there meanwhile is
    replaced, never followed."""
    try:
        existing = os.stat(part, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        kind = "a symlink" if stat.S_ISLNK(existing.st_mode) else "not a regular file"
        raise _Refused(f"{shown} is {kind}")
    staged = f".codeloop-{secrets.token_hex(8)}.part"
    fd = os.open(staged, _NEW_FILE, 0o666, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.rename(staged, part, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staged, dir_fd=dir_fd)
        raise


def _shortened(part: str) -> str:
    """part cut to COMPONENT_BYTES of UTF-8, on a character boundary, keeping a short extension."""
    if len(part.encode()) <= COMPONENT_BYTES:
        return part
    stem, dot, extension = part.rpartition(".")
    suffix = dot + extension if stem and len(extension) < _KEPT_SUFFIX else ""
    head = part[: len(part) - len(suffix)]
    room = COMPONENT_BYTES - len(suffix.encode())
    return head.encode()[:room].decode(errors="ignore") + suffix
