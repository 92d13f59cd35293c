"""Reading request bodies: with a size cap, so a huge upload is refused before it is held in memory, and
with a deadline, so a body sent slowly or never finished cannot hold its caller's slot for good."""

from __future__ import annotations

import asyncio

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codeloop.errors import InvalidRequest, PayloadTooLarge, RequestTimeout


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidRequest("Content-Length is not a number.")
        if int(declared) > limit:
            raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request payload size exceeds the limit: {limit} bytes (got at least {size}).")


class BodyDeadlineMiddleware:
    """Each request's body must have arrived whole within timeout_s of its headers.

    The deadline is kept where the app receives, so every route and every way of reading a body
    (whole, streamed to disk, multipart) has it: past it, receive() raises RequestTimeout, a 408 that
    closes the connection. Once the body is complete, receive() waits unbounded again, as it must
    for a streaming response that listens for the client going away."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        complete = False

        async def receive_in_time() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(
                    f"The request body did not arrive within {self.timeout_s:g} seconds."
                ) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, receive_in_time, send)
