"""The ASGI application: create_app(settings) wires routes, handlers, middleware, the sandbox's lifetime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from codeloop import __version__
from codeloop.files import FileStore, UploadStore
from codeloop.files.sweep import sweep, sweep_interval
from codeloop.runtime import open_runtime, registry_for
from codeloop.sandbox.base import Sandbox
from codeloop.server import handlers, openapi
from codeloop.server.access import AccessMiddleware
from codeloop.server.auth import api_keys
from codeloop.server.body import BodyDeadlineMiddleware
from codeloop.server.interactions.store import InteractionLimits, InteractionStore
from codeloop.server.interactions.threads import Threads
from codeloop.server.limits import ConcurrencyLimiter
from codeloop.server.metrics import Metrics
from codeloop.server.routes import files, generate, health, interactions, metrics, models, playground
from codeloop.server.runtime import ServerRuntime
from codeloop.server.sessions import SessionStore
from codeloop.server.telemetry import Telemetry, TelemetryMiddleware
from codeloop.server.tracing import tracer_from_environment
from codeloop.server.usage import KeyUsage, usage_by_key
from codeloop.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    registry = registry_for(settings)  # an unknown model is refused now, before the server starts

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stored_files, uploads = open_file_stores(settings)
        async with open_runtime(settings, registry) as runtime:
            sessions = open_session_store(runtime.sandbox, settings)
            stored_interactions = open_interaction_store(runtime.sandbox, settings)
            sweeping = asyncio.create_task(
                sweep(
                    [stored_files.purge_expired, uploads.purge_expired],
                    sweep_interval(min(settings.files_ttl_s, settings.upload_idle_timeout)),
                )
            )
            try:
                app.state.runtime = ServerRuntime(
                    settings=settings,
                    registry=runtime.registry,
                    sandbox=runtime.sandbox,
                    sessions=sessions,
                    files=stored_files,
                    uploads=uploads,
                    interactions=stored_interactions,
                )
                yield
            finally:
                sweeping.cancel()
                await stored_interactions.close()
                await sessions.close()

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
    routers = [
        health.router,
        metrics.router,
        models.router,
        generate.router,
        files.router,
        interactions.router,
        playground.router,
    ]
    for router in routers:
        app.include_router(router)

    def sandbox() -> Sandbox | None:
        runtime: ServerRuntime | None = getattr(app.state, "runtime", None)  # None until the lifespan starts
        return runtime.sandbox if runtime is not None else None

    def usage() -> dict[str, KeyUsage] | None:
        runtime: ServerRuntime | None = getattr(app.state, "runtime", None)
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


def open_session_store(sandbox: Sandbox, settings: Settings) -> SessionStore:
    """Kept sessions in this process; on a Ray cluster, in the cluster's directory, for every replica."""
    store: type[SessionStore] = SessionStore
    if settings.ray is not None:
        from codeloop.cluster.sessions import ClusterSessionStore

        store = ClusterSessionStore
    return store(
        sandbox,
        ttl_s=settings.session_idle_timeout,
        max_sessions=settings.max_kept_sessions,
        max_per_key=settings.max_kept_sessions_per_key,
    )


def open_interaction_store(sandbox: Sandbox, settings: Settings) -> InteractionStore:
    """Stored interactions in this process; with a shared data directory, on disk there for every
    server, their interpreters on the cluster's nodes when there is one."""
    limits = InteractionLimits(
        ttl_s=settings.session_idle_timeout,
        max_records=settings.max_interactions,
        max_per_key=settings.max_interactions_per_key,
        max_background_per_key=settings.max_concurrent_per_key or None,
        max_history_bytes=settings.max_request_bytes,
    )
    if not settings.shared_data_dir:
        return InteractionStore(sandbox, limits)
    from codeloop.server.interactions.shared import SharedInteractionStore

    threads: Threads | None = None
    if settings.ray is not None:
        from codeloop.cluster.sandbox import RaySandbox
        from codeloop.cluster.threads import ClusterThreads

        assert isinstance(sandbox, RaySandbox)
        threads = ClusterThreads(sandbox)
    return SharedInteractionStore(settings.data_dir / "interactions", sandbox, limits, threads)


def open_file_stores(settings: Settings) -> tuple[FileStore, UploadStore]:
    """The Files API's stores under --data-dir: unfinished uploads count against the files' quotas."""
    store = FileStore(
        settings.data_dir / "files",
        settings.max_file_bytes,
        settings.max_files_bytes,
        settings.files_ttl_s,
        max_key_bytes=settings.max_files_bytes_per_key,
        shared=settings.shared_data_dir,
    )
    uploads = UploadStore(
        settings.data_dir / "uploads",
        store,
        settings.upload_idle_timeout,
        max_per_key=settings.max_uploads_per_key,
    )
    return store, uploads
