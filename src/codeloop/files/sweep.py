"""The periodic purge of expired files and uploads, besides the purge each access does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

log = logging.getLogger("codeloop.files")


def sweep_interval(ttl_s: float) -> float:
    """A tenth of the lifetime, between one second and ten minutes."""
    return min(max(ttl_s / 10, 1.0), 600.0)


async def sweep(purges: Sequence[Callable[[], int]], interval_s: float) -> None:
    """Run each purge off the event loop every interval_s seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        for purge in purges:
            try:
                purged = await asyncio.to_thread(purge)
            except OSError as exc:
                log.warning("purging expired files failed: %s", exc)
                continue
            if purged:
                log.info("purged %d expired files or uploads", purged)
