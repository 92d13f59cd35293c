"""OpenTelemetry traces, when OTEL_EXPORTER_OTLP_ENDPOINT is set and `codeloop[otel]` installed."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger("codeloop.server")


def tracer_from_environment() -> Tracer | None:
    """A tracer exporting over OTLP/HTTP as the OTEL_* variables say, or None when tracing is off."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        exporter: Any = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set, but tracing needs: pip install 'codeloop[otel]'")
        return None
    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; codeloop is the fallback name.
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "codeloop")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter.OTLPSpanExporter()))
    return provider.get_tracer("codeloop")


@contextmanager
def request_span(tracer: Tracer | None, method: str, path: str) -> Iterator[Span | None]:
    """A server span around one request, current while it is answered, so that inner spans nest."""
    if tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    attributes = {"http.request.method": method, "url.path": path}
    name = f"{method} {path}"
    with tracer.start_as_current_span(name, kind=SpanKind.SERVER, attributes=attributes) as span:
        yield span


def finish_request_span(span: Span | None, method: str, route: str, status: int, request_id: str) -> None:
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    span.set_attribute("codeloop.request_id", request_id)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


def record_execution_span(tracer: Tracer | None, start_ns: int, outcome: str) -> None:
    """A span for one code block, from its end (when it was sent to the sandbox) to its result."""
    if tracer is None:
        return
    span = tracer.start_span("code execution", start_time=start_ns, attributes={"codeloop.outcome": outcome})
    span.end()
