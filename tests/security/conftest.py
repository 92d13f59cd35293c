"""Two real servers with a canary in their environment: one sandboxed (as shipped), one with
--insecure-no-sandbox, to show each attack working where it is safe to run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers import Server, start_server, stop_server


@pytest.fixture(scope="session")
def sandboxed() -> Iterator[Server]:
    server = start_server()
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def unsandboxed() -> Iterator[Server]:
    server = start_server("--insecure-no-sandbox")
    yield server
    stop_server(server)
