"""The ASGI application: create_app(settings) wires routes, handlers, middleware, the sandbox's lifetime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from codeloop import __version__
from codeloop.backends.registry import Registry
from codeloop.files import FileStore, UploadStore
from codeloop.files.sweep import sweep, sweep_interval
from codeloop.sandbox.base import Sandbox
from codeloop.sandbox.factory import start_sandbox
from codeloop.server import handlers, openapi
from codeloop.server.access import AccessMiddleware
from codeloop.server.auth import api_keys
from codeloop.server.body import BodyDeadlineMiddleware
from codeloop.server.limits import ConcurrencyLimiter
from codeloop.server.metrics import Metrics
from codeloop.server.routes import files, generate, health, metrics, models
from codeloop.server.runtime import Runtime
from codeloop.server.sessions import SessionStore
from codeloop.server.telemetry import Telemetry, TelemetryMiddleware
from codeloop.server.tracing import tracer_from_environment
from codeloop.server.usage import KeyUsage, usage_by_key
from codeloop.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    registry = Registry(settings.model, settings.model_aliases, settings.backend_options)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stored_files, uploads = open_file_stores(settings)
        # The default model loads (off the event loop) while the sandbox starts: the first
        # answer should wait for neither.
        loading = asyncio.ensure_future(asyncio.to_thread(registry.resolve, settings.model))
        sandbox = await start_sandbox(settings.sandbox_limits, settings.sandbox_config)
        sessions = SessionStore(
            sandbox,
            settings.session_idle_timeout,
            settings.max_kept_sessions,
            settings.max_kept_sessions_per_key,
        )
        sweeping = asyncio.create_task(
            sweep(
                [stored_files.purge_expired, uploads.purge_expired],
                sweep_interval(min(settings.files_ttl_s, settings.upload_idle_timeout)),
            )
        )
        try:
            await loading
            app.state.runtime = Runtime(settings, registry, sandbox, sessions, stored_files, uploads)
            yield
        finally:
            sweeping.cancel()
            await sessions.close()
            await sandbox.close()
            await registry.aclose()

    app = FastAPI(
        title="codeloop",
        version=__version__,
        summary="Gemini-style code execution, self-hosted, for any model.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    handlers.install(app)
    keys = api_keys(settings)
    openapi.install(app, keys_required=bool(keys))
    routers = [health.router, metrics.router, models.router, generate.router, files.router]
    for router in routers:
        app.include_router(router)

    def sandbox() -> Sandbox | None:
        runtime: Runtime | None = getattr(app.state, "runtime", None)  # None until the lifespan starts
        return runtime.sandbox if runtime is not None else None

    def usage() -> dict[str, KeyUsage] | None:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        return usage_by_key(runtime) if runtime is not None else None

    telemetry = Telemetry(Metrics(sandbox, usage), tracer_from_environment())
    app.state.telemetry = telemetry
    # The last added runs first: every request gets its id and is counted, refused ones included.
    app.add_middleware(BodyDeadlineMiddleware, timeout_s=settings.body_timeout_s)
    limiter = ConcurrencyLimiter(settings.max_concurrent_per_key)
    app.add_middleware(AccessMiddleware, keys=keys, limiter=limiter)
    routes = [route for router in routers for route in router.routes]
    app.add_middleware(TelemetryMiddleware, telemetry=telemetry, routes=routes)
    return app


def open_file_stores(settings: Settings) -> tuple[FileStore, UploadStore]:
    """The Files API's stores under --data-dir: unfinished uploads count against the files' quotas."""
    store = FileStore(
        settings.data_dir / "files",
        settings.max_file_bytes,
        settings.max_files_bytes,
        settings.files_ttl_s,
        max_key_bytes=settings.max_files_bytes_per_key,
    )
    uploads = UploadStore(
        settings.data_dir / "uploads",
        store,
        settings.upload_idle_timeout,
        max_per_key=settings.max_uploads_per_key,
    )
    return store, uploads
