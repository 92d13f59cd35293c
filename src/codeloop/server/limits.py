"""What one client may hold: requests in flight per caller (past the limit a request is refused at
once, never queued), and how large and how slow the parts of a request may be before it is read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from codeloop.errors import QuotaExceeded


@dataclass(frozen=True)
class RequestLimits:
    """Bounds on a request before any route sees it; each is checked before memory is spent on it."""

    max_header_bytes: int = 64 << 10  # the request line and header section together
    max_headers: int = 100
    header_timeout_s: float = 20.0  # from a connection's start, or a request's first byte, to its last header
    body_timeout_s: float = 60.0  # from a request's headers to the last byte of its body


class ConcurrencyLimiter:
    """At most `limit` requests in flight per caller (an API key, or a client address); 0 means no limit.

    Only the event loop's thread touches it, so a plain counter needs no lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._in_flight: Counter[str] = Counter()

    def in_flight(self, caller: str) -> int:
        return self._in_flight[caller]

    @contextmanager
    def slot(self, caller: str) -> Iterator[None]:
        """Hold one of the caller's slots for the block; QuotaExceeded if all are taken."""
        if self.limit and self._in_flight[caller] >= self.limit:
            raise QuotaExceeded(
                f"Resource has been exhausted: {self.limit} requests of this caller are already in "
                "flight. Retry when one of them has finished."
            )
        self._in_flight[caller] += 1
        try:
            yield
        finally:
            self._in_flight[caller] -= 1
            if not self._in_flight[caller]:
                del self._in_flight[caller]
