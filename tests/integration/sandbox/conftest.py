"""One event loop thread per module, so that a module's tests share one started ForkSandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sandbox_helpers import LoopThread


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    runner = LoopThread()
    yield runner
    runner.stop()
