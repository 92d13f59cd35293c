"""The ASGI middleware that admits a request: its API key checked, then a slot of its caller's limit held.

The slot is held until the response has been sent whole, a stream included, or the client has gone."""

from __future__ import annotations

import hashlib
import re
from contextlib import ExitStack

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from codeloop.errors import CodeloopError
from codeloop.server.auth import check_key, key_of
from codeloop.server.handlers import error_response
from codeloop.server.limits import ConcurrencyLimiter

OPEN_PATHS = frozenset({"/healthz"})  # liveness probes carry no key
UNLIMITED_PATHS = frozenset({"/healthz", "/metrics"})  # a scrape must not be refused for busy streams
# A resumable upload's later requests: their random upload id is their credential, as at Google
# (google-genai sends no key with them); the route answers only for an upload that exists.
UPLOAD_SESSION_PATH = re.compile(r"/upload/v1(?:beta|alpha)?/files")


class AccessMiddleware:
    def __init__(self, app: ASGIApp, keys: frozenset[str], limiter: ConcurrencyLimiter) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        with ExitStack() as held:
            try:
                caller = self._caller(scope)
                if path not in UNLIMITED_PATHS:
                    held.enter_context(self.limiter.slot(caller))
            except CodeloopError as exc:
                # Refused before the app ran: its error handlers are further in, so the body is sent here.
                await error_response(exc)(scope, receive, send)
                return
            await self.app(scope, receive, send)

    def _caller(self, scope: Scope) -> str:
        """Who the request counts against: its key when keys are required, else its client address."""
        if self.keys and not _is_upload_session(scope):
            key = key_of(Headers(scope=scope), QueryParams(scope.get("query_string", b"")))
            check_key(key, self.keys)
            assert key is not None
            return "key:" + hashlib.sha256(key.encode()).hexdigest()
        client = scope.get("client")
        return f"ip:{client[0]}" if client else "ip:unknown"


def _is_upload_session(scope: Scope) -> bool:
    if not UPLOAD_SESSION_PATH.fullmatch(scope.get("path", "")):
        return False
    return "upload_id" in QueryParams(scope.get("query_string", b""))
