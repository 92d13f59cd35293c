"""OpenTelemetry: a server span per request named by its route, a span per code block inside it."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import AsyncGenerator

import httpx
import pytest

from codeloop.server.metrics import Metrics
from codeloop.server.telemetry import Telemetry, TelemetryMiddleware
from codeloop.server.tracing import tracer_from_environment

sdk = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from codeloop.execution import Execution, Outcome  # noqa: E402
from codeloop.loop.events import CodeBlock, CodeResult, Event, Finished, Usage  # noqa: E402


async def trail() -> AsyncGenerator[Event, None]:
    for code, outcome in (("print(1)", Outcome.OUTCOME_OK), ("1/0", Outcome.OUTCOME_FAILED)):
        yield CodeBlock(code)
        yield CodeResult(Execution(outcome, ""))
    yield Finished("STOP", Usage())


def traced_app(telemetry: Telemetry) -> Starlette:
    async def run_code(request: Request) -> PlainTextResponse:
        async for _ in telemetry.observe("scripted", trail()):
            pass
        return PlainTextResponse("ran")

    async def fail(request: Request) -> PlainTextResponse:
        return PlainTextResponse("broken", status_code=503)

    app = Starlette(routes=[Route("/models/{model}:run", run_code, methods=["POST"]), Route("/fail", fail)])
    app.add_middleware(TelemetryMiddleware, telemetry=telemetry, routes=app.routes)
    return app


def test_a_span_per_request_and_per_code_block() -> None:
    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = traced_app(Telemetry(Metrics(), provider.get_tracer("test")))

    async def call() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ran = await client.post("/models/scripted:run", headers={"x-request-id": "trace-me"})
            failed = await client.get("/fail")
            return [ran, failed]

    ran, failed = asyncio.run(call())
    assert ran.headers["x-request-id"] == "trace-me" and failed.headers["x-request-id"]
    spans = exporter.get_finished_spans()
    request, other = [span for span in spans if span.kind == SpanKind.SERVER]
    assert request.name == "POST /models/{model}:run"
    assert request.attributes["http.route"] == "/models/{model}:run"
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes["codeloop.request_id"] == "trace-me"
    blocks = [span for span in spans if span.name == "code execution"]
    assert [span.attributes["codeloop.outcome"] for span in blocks] == ["OUTCOME_OK", "OUTCOME_FAILED"]
    assert all(span.parent.span_id == request.context.span_id for span in blocks)
    assert all(span.context.trace_id == request.context.trace_id for span in blocks)
    assert other.name == "GET /fail" and other.status.status_code == StatusCode.ERROR


def test_tracing_is_off_unless_an_endpoint_is_set(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert tracer_from_environment() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    exporter_installed = _installed("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    with caplog.at_level(logging.WARNING, logger="codeloop.server"):
        tracer = tracer_from_environment()
    if exporter_installed:
        assert tracer is not None
    else:
        assert tracer is None
        assert "pip install 'codeloop[otel]'" in caplog.text


def _installed(module: str) -> bool:
    """Whether module can be imported: other exporters (ray[serve]'s Prometheus one) share its namespace."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False
