"""Live output: what a running block prints, as pieces of valid text, coalesced, in order.

The sandbox hands over its output pipe's bytes as it reads them (already capped at the block's
output limit). They are hostile: a multi-byte character may be split between two reads, or not
be UTF-8 at all, so an incremental decoder turns them into text, replacing what cannot be decoded
as the whole result does. A flood of tiny prints must not become a flood of chunks: after a piece
goes out, the next waits until PIECE_INTERVAL_S has passed, unless PIECE_CHARS have gathered by
then. Output that comes after a quiet spell goes out SETTLE_S after its first byte: print() writes
a line's text and its newline separately (stdout is unbuffered in the sandbox), and they belong in
one piece. So a line a second is seen within SETTLE_S of being printed, and so is a partial line.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import AsyncIterator

__all__ = ["PIECE_CHARS", "PIECE_INTERVAL_S", "SETTLE_S", "LiveOutput"]

PIECE_INTERVAL_S = 0.05
PIECE_CHARS = 64 << 10
SETTLE_S = 0.02


class LiveOutput:
    """One block's live output: feed() takes bytes as they are read, pieces() yields text to send,
    close() (when the block has ended) sends what is left and ends pieces()."""

    def __init__(
        self, interval_s: float = PIECE_INTERVAL_S, piece_chars: int = PIECE_CHARS, settle_s: float = SETTLE_S
    ) -> None:
        self._interval_s = interval_s
        self._settle_s = settle_s
        self._piece_chars = piece_chars
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._loop = asyncio.get_running_loop()
        self._pending: list[str] = []
        self._pending_chars = 0
        self._sent_at = float("-inf")
        self._timer: asyncio.TimerHandle | None = None
        self._ready: asyncio.Queue[str | None] = asyncio.Queue()
        self._closed = False

    def feed(self, data: bytes) -> None:
        """Take bytes the block printed; called on the event loop as the pipe is read."""
        if self._closed:
            return
        text = self._decoder.decode(data)
        if not text:  # the first bytes of a character, or nothing
            return
        self._pending.append(text)
        self._pending_chars += len(text)
        if self._pending_chars >= self._piece_chars:
            self._send()
        elif self._timer is None:
            now = self._loop.time()
            wait = max(self._settle_s, self._sent_at + self._interval_s - now)
            if wait <= 0:
                self._send()
            else:
                self._timer = self._loop.call_later(wait, self._send)

    def close(self) -> None:
        """The block has ended: what is held goes out now (an unfinished character as U+FFFD)."""
        if self._closed:
            return
        if tail := self._decoder.decode(b"", final=True):
            self._pending.append(tail)
        self._send()
        self._closed = True
        self._ready.put_nowait(None)

    async def pieces(self) -> AsyncIterator[str]:
        """Each piece as it is ready, until close()."""
        while (piece := await self._ready.get()) is not None:
            yield piece

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            self._ready.put_nowait("".join(self._pending))
            self._pending, self._pending_chars = [], 0
            self._sent_at = self._loop.time()
