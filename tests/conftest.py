"""Shared fixtures: a real codeloop server on loopback, serving the scripted model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codeloop.settings import Settings
from live import LiveServer, serving


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    with serving(Settings(model="scripted", exec_timeout=5, max_request_bytes=2 << 20)) as server:
        yield server
