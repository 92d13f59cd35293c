"""The ASGI application: create_app(settings) wires routes, error handlers and the sandbox's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from codeloop import __version__
from codeloop.backends.registry import Registry
from codeloop.sandbox.process import ProcessSandbox
from codeloop.server import handlers
from codeloop.server.routes import generate, health, models
from codeloop.server.runtime import Runtime
from codeloop.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    registry = Registry(settings.served_models, settings.model_aliases)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sandbox = ProcessSandbox(settings.sandbox_limits)
        app.state.runtime = Runtime(settings, registry, sandbox)
        try:
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
