"""Shared fixtures: a real codeloop server on loopback, serving the scripted model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codeloop.settings import Settings
from live import LiveServer, serving


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("data")
    settings = Settings(model="scripted", exec_timeout=5, max_request_bytes=2 << 20, data_dir=data_dir)
    with serving(settings) as server:
        yield server
