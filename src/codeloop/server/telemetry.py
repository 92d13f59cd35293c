"""What the server reports about its work: per request (id, log line, metrics, span) and per code block."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codeloop.loop.events import CodeBlock, CodeResult, Event, Finished
from codeloop.server.logs import REQUEST_ID_HEADER, request_id_for, set_request_id
from codeloop.server.metrics import Metrics
from codeloop.server.tracing import finish_request_span, record_execution_span, request_span

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger("codeloop.server")

# The 500 handler runs outside every middleware (in Starlette's ServerErrorMiddleware): it finds the id here.
REQUEST_ID_SCOPE_KEY = "codeloop.request_id"


def request_id_of(scope: Scope) -> str | None:
    request_id: str | None = scope.get(REQUEST_ID_SCOPE_KEY)
    return request_id


@dataclass
class Telemetry:
    metrics: Metrics
    tracer: Tracer | None = None

    async def observe(self, model: str, events: AsyncGenerator[Event, None]) -> AsyncGenerator[Event, None]:
        """The engine's events, passed through unchanged, counted on the way: outcomes, durations, tokens."""
        block_ended: tuple[float, int] | None = None
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, CodeBlock):
                    block_ended = (time.perf_counter(), time.time_ns())
                elif isinstance(event, CodeResult):
                    outcome = event.execution.outcome.value
                    self.metrics.executions.labels(outcome).inc()
                    if block_ended is not None:
                        elapsed = time.perf_counter() - block_ended[0]
                        self.metrics.execution_duration.labels(outcome).observe(elapsed)
                        record_execution_span(self.tracer, block_ended[1], outcome)
                    block_ended = None
                elif isinstance(event, Finished):
                    self.metrics.count_usage(model, event.usage)
                yield event


class TelemetryMiddleware:
    """The outermost middleware: gives each request its id (x-request-id, taken or made, and sent back),
    a span, one log line and its metrics, all when its response has ended (a stream's too)."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.telemetry = telemetry
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(Headers(scope=scope).get(REQUEST_ID_HEADER))
        set_request_id(request_id)
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        status = 500  # unless a response starts: an exception escaped, and the 500 handler answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        metrics = self.telemetry.metrics
        method, path = scope["method"], scope["path"]
        started = time.perf_counter()
        metrics.in_flight.inc()
        with request_span(self.telemetry.tracer, method, path) as span:
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                metrics.in_flight.dec()
                route = self._route(scope)
                metrics.http_requests.labels(route, method, str(status)).inc()
                metrics.http_duration.labels(route, method).observe(elapsed)
                finish_request_span(span, method, route, status, request_id)
                fields = {"method": method, "path": path, "status": status, "ms": round(elapsed * 1000, 1)}
                log.info("request", extra={"fields": fields})

    def _route(self, scope: Scope) -> str:
        """The route template, never the raw path: paths hold model names, and labels must stay few."""
        route = scope.get("route")
        if route is None:  # refused before routing (a key, a slot), or no route at all
            route = self._route_for(scope)
        path: str | None = getattr(route, "path", None)
        return path or "unmatched"

    def _route_for(self, scope: Scope) -> BaseRoute | None:
        """The route the router would pick: a full match (path and method) before a partial one, since
        GET /{version}/models/{model} matches POST /v1beta/models/m:generateContent on its path alone."""
        partial = None
        for route in self.routes:
            match = route.matches(scope)[0]
            if match == Match.FULL:
                return route
            if match == Match.PARTIAL and partial is None:
                partial = route
        return partial
