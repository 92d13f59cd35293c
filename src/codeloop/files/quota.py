"""The Files API's byte quotas: what stored files and unfinished uploads hold, in all and per API key.

Each holder (a stored file, an upload, a body being received) is charged under a token of its own.
A charge that grows what is held past the server's cap, or an API key's past its own, is refused
with QuotaExceeded and changes nothing; shrinking never fails. The anonymous owner (no API keys
configured) is bounded by the server's cap alone.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from codeloop.errors import QuotaExceeded
from codeloop.owners import is_key

_ADVICE = "Delete files, finish or cancel uploads, or wait for them to expire."


@dataclass(frozen=True)
class _Charge:
    owner: str
    size: int


class Ledger:
    """Safe to call from several threads."""

    def __init__(self, max_total_bytes: int, max_key_bytes: int | None = None) -> None:
        self.max_total_bytes = max_total_bytes
        self.max_key_bytes = max_key_bytes
        self._lock = threading.Lock()
        self._charges: dict[str, _Charge] = {}
        self._by_owner: Counter[str] = Counter()

    def charge(
        self, token: str, owner: str, size: int, instead_of: str | None = None, force: bool = False
    ) -> None:
        """Hold size bytes for token, in place of what it (and the token instead_of) held before.

        force takes the charge even past the caps: for what is already on disk at start."""
        with self._lock:
            freed = {t: self._charges[t] for t in {token, instead_of} if t is not None and t in self._charges}
            growth = size - sum(charge.size for charge in freed.values())
            if growth > 0 and not force:
                self._check(owner, growth)
            for freed_token in freed:
                self._drop(freed_token)
            self._charges[token] = _Charge(owner, size)
            self._by_owner[owner] += size

    def grow(self, token: str, owner: str, size: int) -> None:
        """Hold at least size bytes for token: a body's bytes, claimed as they arrive."""
        with self._lock:
            held = self._charges.get(token)
            if held is not None and held.size >= size:
                return
        self.charge(token, owner, size)

    def release(self, token: str) -> None:
        with self._lock:
            if token in self._charges:
                self._drop(token)

    def used(self, owner: str | None = None) -> int:
        """Bytes held, by everyone or by one owner."""
        with self._lock:
            return sum(self._by_owner.values()) if owner is None else self._by_owner[owner]

    def by_owner(self) -> dict[str, int]:
        with self._lock:
            return {owner: size for owner, size in self._by_owner.items() if size}

    def _check(self, owner: str, growth: int) -> None:
        total = sum(self._by_owner.values())
        if total + growth > self.max_total_bytes:
            # Only the cap is named: the total is other keys' business.
            raise QuotaExceeded(
                f"File storage is full: the server's {self.max_total_bytes} bytes for files and "
                f"unfinished uploads cannot take {growth} more. {_ADVICE}"
            )
        mine = self._by_owner[owner]
        if is_key(owner) and self.max_key_bytes is not None and mine + growth > self.max_key_bytes:
            raise QuotaExceeded(
                f"This API key's file storage is full: its files and unfinished uploads hold {mine} of "
                f"its {self.max_key_bytes} bytes and cannot take {growth} more. {_ADVICE}"
            )

    def _drop(self, token: str) -> None:
        charge = self._charges.pop(token)
        self._by_owner[charge.owner] -= charge.size
        if not self._by_owner[charge.owner]:
            del self._by_owner[charge.owner]
