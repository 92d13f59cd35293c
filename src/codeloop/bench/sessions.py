"""Timing a sandbox's sessions, for `bench sandbox` and `bench cluster` alike: a warm session's block
round trip, and how many blocks (in warm sessions, or each in a fresh one) several workers get through
per second. Any Sandbox: this machine's, or a RaySandbox over a cluster's nodes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from codeloop.sandbox.base import Sandbox, Session


async def block_times(session: Session, code: str, rounds: int) -> list[float]:
    """Seconds each of rounds runs of code took in session (warm it first: the first run is not one)."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await session.run(code)
        samples.append(time.perf_counter() - started)
    return samples


async def warm_block_times(sandbox: Sandbox, code: str, rounds: int) -> list[float]:
    """block_times in a session of its own, warmed by one run first."""
    session = await sandbox.open_session()
    try:
        await session.run(code)
        return await block_times(session, code, rounds)
    finally:
        await session.close()


async def throughput(
    sandbox: Sandbox, workers: int, seconds: float, code: str, fresh_sessions: bool
) -> float:
    """Blocks per second, workers at once for seconds: each in a fresh session (open, run, close), or
    each worker's in its one warm session."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def fresh() -> None:
        session = await sandbox.open_session()
        try:
            await session.run(code)
        finally:
            await session.close()

    async def worker() -> None:
        nonlocal done
        session: Session | None = None
        if fresh_sessions:
            step: Callable[[], Awaitable[Any]] = fresh
        else:
            session = await sandbox.open_session()
            step = lambda: session.run(code)  # noqa: E731
        try:
            while time.perf_counter() < deadline:
                await step()
                done += 1
        finally:
            if session is not None:
                await session.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return round(done / (time.perf_counter() - started), 1)
