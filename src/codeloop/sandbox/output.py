"""What a session process prints: stdout and stderr through one capped pipe."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

__all__ = ["Listener", "Output", "join", "signal_name"]

# Told each piece of a block's output as it is read, within the block's limit: live output.
Listener = Callable[[bytes], None]

_READ_CHUNK = 1 << 16
# A drain reads what is already in the pipe: one pipe buffer, plus slack for busy writers.
_DRAIN_LIMIT = 1 << 20


class Output:
    """The child's fds 1 and 2: a pipe, read while a block runs, keeping its first `limit` bytes.

    Between blocks nobody reads it, so a chatty background process blocks instead of
    filling memory; what it wrote meanwhile is dropped when the next block starts.
    """

    def __init__(self, fd: int, limit: int) -> None:
        """Starts reading at once, so a child that dies at startup can tell us why."""
        os.set_blocking(fd, False)
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._reading = False
        self._open = True
        self._kept = bytearray()
        self._dropped = 0
        self._limit = limit
        self._listener: Listener | None = None
        self._resume()

    def start(self, limit: int, listener: Listener | None = None) -> None:
        """A new block: drop what came between blocks, read until stop(), telling `listener` each
        piece kept as it arrives."""
        self.drain()
        self._kept, self._dropped, self._limit = bytearray(), 0, limit
        self._listener = listener
        self._resume()

    def stop(self) -> None:
        """Take in what is already in the pipe (all the child wrote before it answered), then pause."""
        self.drain()
        self._pause()
        self._listener = None

    def drain(self) -> None:
        for _ in range(_DRAIN_LIMIT // _READ_CHUNK):
            if not self._read():
                break

    def close(self) -> None:
        if self._open:
            self._pause()
            self._open = False
            os.close(self._fd)

    def text(self, trailer: str = "") -> str:
        """What the block printed, cut to fit `limit` together with the trailer (traceback, notes)."""
        tail = trailer.encode("utf-8", "replace")
        head = bytes(self._kept[: max(self._limit - len(tail), 0)])
        hidden = len(self._kept) - len(head) + self._dropped
        text = head.decode("utf-8", "replace")
        if hidden:
            text = join(text, f"[output truncated: {hidden} bytes not shown]\n")
        return join(text, tail.decode("utf-8"))

    def _read(self) -> bool:
        """One read into the buffer; False once the pipe is empty for now, or closed."""
        if not self._open:
            return False
        try:
            data = os.read(self._fd, _READ_CHUNK)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:  # every writer is gone: the child and all it spawned
            self.close()
            return False
        room = max(self._limit - len(self._kept), 0)
        kept = data[:room]
        self._kept += kept
        self._dropped += len(data) - len(kept)
        if kept and self._listener is not None:
            self._listener(kept)
        return True

    def _resume(self) -> None:
        if self._open and not self._reading:
            self._loop.add_reader(self._fd, self._read)
            self._reading = True

    def _pause(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False


def join(text: str, more: str) -> str:
    if text and more and not text.endswith("\n"):
        text += "\n"
    return text + more


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
