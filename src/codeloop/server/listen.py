"""How the server listens: uvicorn's configuration from Settings, the same for `codeloop serve` and tests."""

from __future__ import annotations

from typing import Any

import uvicorn

from codeloop.server.connections import protocol_for
from codeloop.settings import Settings


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """Logging is left to codeloop (request ids included): the middleware writes one line per request."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": protocol_for(settings.request_limits),
        "log_level": settings.log_level.lower(),
        "log_config": None,
        "access_log": False,
        **overrides,
    }
    return uvicorn.Config(app, **options)
