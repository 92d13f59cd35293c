"""The ASGI middleware that admits a request: its API key checked, then a slot of its caller's limit held.

The slot is held until the response has been sent whole, a stream included, or the client has gone.
The request's owner (owners.py) is left in its scope for the routes: owner_of(request)."""

from __future__ import annotations

import re
from contextlib import ExitStack

from fastapi import Request
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from codeloop.errors import CodeloopError, Unauthenticated
from codeloop.owners import ANONYMOUS, is_key, key_owner
from codeloop.server.auth import MISSING_KEY, check_key, key_of
from codeloop.server.handlers import error_response
from codeloop.server.limits import ConcurrencyLimiter
from codeloop.server.routes.playground import is_playground_path

OPEN_PATHS = frozenset({"/healthz"})  # liveness probes carry no key
UNLIMITED_PATHS = frozenset({"/healthz", "/metrics"})  # a scrape must not be refused for busy streams
# A resumable upload's later requests: their random upload id is their credential, as at Google, so
# they need no key; one they carry (google-genai sends its own) must be valid, and the upload's owner's.
# The route answers only for an upload that exists.
UPLOAD_SESSION_PATH = re.compile(r"/upload/v1(?:beta|alpha)?/files")
OWNER_SCOPE_KEY = "codeloop.owner"


class AccessMiddleware:
    def __init__(self, app: ASGIApp, keys: frozenset[str], limiter: ConcurrencyLimiter) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or _is_playground_page(scope):
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
        """Who the request counts against: its key when keys are required, else its client address.

        Records the request's owner in its scope: its key's, or the anonymous owner without keys; a
        resumable upload's later request with no key has none, its upload id standing in for one."""
        owner: str | None = ANONYMOUS
        if self.keys:
            key = key_of(Headers(scope=scope), QueryParams(scope.get("query_string", b"")))
            if key is None and _is_upload_session(scope):
                owner = None
            else:
                check_key(key, self.keys)
                assert key is not None
                owner = key_owner(key)
        scope[OWNER_SCOPE_KEY] = owner
        if owner is not None and is_key(owner) and not _is_upload_session(scope):
            return owner
        client = scope.get("client")
        return f"ip:{client[0]}" if client else "ip:unknown"


def owner_of(request: Request) -> str:
    """Whose files, uploads and sessions the request may see, and whose it creates."""
    owner = upload_owner_of(request)
    if owner is None:
        raise Unauthenticated(MISSING_KEY)
    return owner


def upload_owner_of(request: Request) -> str | None:
    """The owner, or None for a resumable upload's later request that carries no key."""
    owner: str | None = request.scope.get(OWNER_SCOPE_KEY)
    return owner


def _is_playground_page(scope: Scope) -> bool:
    """The playground's page and assets are fetched before anyone can type a key into it."""
    return scope.get("method") in ("GET", "HEAD") and is_playground_path(scope.get("path", ""))


def _is_upload_session(scope: Scope) -> bool:
    if not UPLOAD_SESSION_PATH.fullmatch(scope.get("path", "")):
        return False
    return "upload_id" in QueryParams(scope.get("query_string", b""))
