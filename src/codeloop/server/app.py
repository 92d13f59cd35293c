"""The ASGI application: create_app(settings) wires routes, error handlers and the sandbox's lifetime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from codeloop import __version__
from codeloop.backends.registry import Registry
from codeloop.sandbox.factory import start_sandbox
from codeloop.server import handlers
from codeloop.server.routes import generate, health, models
from codeloop.server.runtime import Runtime
from codeloop.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    registry = Registry(settings.model, settings.model_aliases, settings.backend_options)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The default model loads (off the event loop) while the sandbox starts: the first
        # answer should wait for neither.
        loading = asyncio.ensure_future(asyncio.to_thread(registry.resolve, settings.model))
        sandbox = await start_sandbox(settings.sandbox_limits, settings.sandbox_config)
        try:
            await loading
            app.state.runtime = Runtime(settings, registry, sandbox)
            yield
        finally:
            await sandbox.close()

    app = FastAPI(
        title="codeloop",
        version=__version__,
        summary="Gemini-style code execution, self-hosted, for any model.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    handlers.install(app)
    app.include_router(health.router)
    app.include_router(models.router)
    app.include_router(generate.router)
    return app
