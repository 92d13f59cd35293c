"""A real codeloop server on loopback, run by uvicorn in a thread, for tests that talk HTTP to it."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from codeloop.settings import Settings


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: Any

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


def start_server(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    from codeloop.server.app import create_app
    from codeloop.server.listen import uvicorn_config

    config = uvicorn_config(create_app(settings), settings, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # On a cluster, the first server starts every sandbox node's host and zygote: slower on a busy machine.
    deadline = time.monotonic() + (120 if settings.ray else 30)
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[LiveServer]:
    """A server for the duration of the block."""
    server, thread, url = start_server(settings)
    try:
        yield LiveServer(url, settings, server.config.app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    """Whether condition() turned true within timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
