"""The memory budget of all live sessions together: its default, and which idle sessions to reset."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol, TypeVar

__all__ = ["machine_share_mib", "sessions_to_reset"]

# The other half is for the server, its model, the zygotes and the page cache.
MACHINE_SHARE = 0.5


class Resettable(Protocol):
    @property
    def running(self) -> bool: ...

    @property
    def last_used(self) -> float: ...


S = TypeVar("S", bound=Resettable)


def machine_share_mib() -> int:
    """The default budget: a share of this machine's physical memory, in MiB."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return max(1, int(total * MACHINE_SHARE) >> 20)


def sessions_to_reset(usage: Mapping[S, int], budget_bytes: int) -> list[S]:
    """Idle sessions to reset, least recently used first, until the rest fit in budget_bytes; all the idle
    ones if the busy ones alone pass it. A busy session is never chosen."""
    excess = sum(usage.values()) - budget_bytes
    chosen: list[S] = []
    for session in sorted((s for s in usage if not s.running), key=lambda s: s.last_used):
        if excess <= 0:
            break
        chosen.append(session)
        excess -= usage[session]
    return chosen
