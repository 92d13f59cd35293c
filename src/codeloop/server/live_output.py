"""Whether a streamGenerateContent request asked for live output: a running block's output as it
is printed, in chunks of their own before its result. Opt-in, so that clients that did not ask get
exactly the chunks they always had."""

from __future__ import annotations

from fastapi import Request

__all__ = ["HEADER", "PARAMETER", "asked_for"]

HEADER = "x-codeloop-live-output"
PARAMETER = "liveOutput"


def asked_for(request: Request) -> bool:
    """`X-Codeloop-Live-Output: true` or `?liveOutput=true`; any other value is no."""
    header = request.headers.get(HEADER, "")
    parameter = request.query_params.get(PARAMETER, "")
    return "true" in (header.strip().lower(), parameter.strip().lower())
