"""Helpers for the sandbox tests: an event loop in a thread, and blocks run in a session of their own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 90) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def run_blocks(loop: LoopThread, sandbox: Any, *blocks: str, timeout_s: float | None = None) -> list[Any]:
    """Run blocks one after another in a new session of sandbox, closed after; their Executions."""

    async def go() -> list[Any]:
        session = await sandbox.open_session()
        try:
            return [await session.run(code, timeout_s) for code in blocks]
        finally:
            await session.close()

    return loop.run(go())
