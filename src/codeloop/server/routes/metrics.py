"""/metrics in Prometheus's text format; it needs an API key like every route when keys are configured."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from codeloop.server.telemetry import Telemetry

router = APIRouter()


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    response_description="The metrics, in Prometheus's text exposition format.",
)
async def metrics(request: Request) -> Response:
    telemetry: Telemetry = request.app.state.telemetry
    return Response(generate_latest(telemetry.metrics.registry), media_type=CONTENT_TYPE_LATEST)
