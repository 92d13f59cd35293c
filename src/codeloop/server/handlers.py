"""Every failure leaves the server as Google's error body; tracebacks go to the log, never to clients."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from codeloop.errors import CodeloopError
from codeloop.server.logs import REQUEST_ID_HEADER
from codeloop.server.telemetry import request_id_of
from codeloop.wire.errors import error_body, error_body_for

log = logging.getLogger("codeloop.server")

_HTTP_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
}


def error_response(exc: CodeloopError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """An error of the tree as an answer: Google's body, with the headers its class asks for."""
    sent = dict(headers or {})
    if exc.retry_after_s is not None:
        sent["retry-after"] = str(exc.retry_after_s)
    if exc.closes_connection:
        sent["connection"] = "close"
    return JSONResponse(error_body_for(exc), status_code=exc.code, headers=sent or None)


async def on_codeloop_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CodeloopError)
    if exc.code >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    return error_response(exc)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status = _HTTP_STATUS.get(exc.status_code, "INTERNAL" if exc.status_code >= 500 else "INVALID_ARGUMENT")
    message = (
        f"The requested URL {request.url.path} was not found on this server."
        if exc.status_code == 404
        else str(exc.detail)
    )
    return JSONResponse(error_body(exc.status_code, message, status), status_code=exc.status_code)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(error_body(400, f"Invalid request: {exc}", "INVALID_ARGUMENT"), status_code=400)


def internal_error_message(request_id: str | None) -> str:
    """The 500 message: no details for the client, but the id that finds them in the log."""
    if request_id is None:
        return "Internal error; the server log has the details."
    return f"Internal error; the server log has the details (request id {request_id})."


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette calls this from outside every middleware: the request id comes from the scope.
    request_id = request_id_of(request.scope)
    log.exception(
        "%s %s failed unexpectedly", request.method, request.url.path, extra={"request_id": request_id}
    )
    body = error_body(500, internal_error_message(request_id), "INTERNAL")
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return JSONResponse(body, status_code=500, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(CodeloopError, on_codeloop_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
