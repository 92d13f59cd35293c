"""HTTP/1.1 connections with a bounded request head: its size, its number of fields, and the time it
may take to arrive, none of which uvicorn's httptools protocol bounds.

httptools keeps a header value that has not ended in memory, growing it with every read, so an
endless header costs as much memory as the client cares to send. The bytes are counted here as they
arrive instead; past the bound the request is answered 431 and the connection closed. A head that
trickles in, or a connection that sends nothing, would hold its socket for good: a deadline closes it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from codeloop.errors import CodeloopError, HeadersTooLarge, RequestTimeout
from codeloop.server.handlers import error_response
from codeloop.server.limits import RequestLimits

# Per header field, the bytes of ": " and CRLF that httptools strips before handing it over.
_FIELD_OVERHEAD = 4


class BoundedHttpProtocol(HttpToolsProtocol):
    """One connection; uvicorn makes one per socket, from the class protocol_for() binds limits to."""

    limits = RequestLimits()

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._in_head = False  # between a request's first byte and the end of its headers
        self._in_request = False  # between a request's first byte and the end of its body
        self._requests_begun = 0
        self._head_bytes = 0
        self._fields = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._refusal: CodeloopError | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        in_head, in_request, begun = self._in_head, self._in_request, self._requests_begun
        super().data_received(data)
        if self._refusal is not None or not self._in_head:
            return  # a finished head is measured exactly, in on_headers_complete
        # A read that leaves a head unfinished is all head if it began inside that head, or between
        # requests with only this one begun; else (pipelining) part of it was the request before,
        # and this read, bounded by the read size, is not counted.
        began = self._requests_begun - begun
        if (in_head and began == 0) or (not in_request and began == 1):
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(self._too_large())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = self._in_request = True
        self._requests_begun += 1
        self._head_bytes = 0
        self._fields = 0
        self._arm_deadline()

    def on_message_complete(self) -> None:
        self._in_request = False
        super().on_message_complete()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        if self._fields > self.limits.max_headers:
            raise self._refusing(
                HeadersTooLarge(f"Request has more than {self.limits.max_headers} header fields.")
            )
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_deadline()
        size = len(self.url) + sum(len(name) + len(value) + _FIELD_OVERHEAD for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            raise self._refusing(self._too_large())
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to a parser error, a callback's exception included: ours say what they are.
        if self._refusal is None:
            super().send_400_response(msg)
        else:
            self._answer_and_close(self._refusal)

    def _too_large(self) -> HeadersTooLarge:
        return HeadersTooLarge(
            f"Request header fields too large: the request line and headers exceed "
            f"{self.limits.max_header_bytes} bytes."
        )

    def _refusing(self, refusal: CodeloopError) -> CodeloopError:
        """The refusal to raise from a parser callback; httptools wraps it, send_400_response sends it."""
        self._refusal = refusal
        return refusal

    def _refuse(self, refusal: CodeloopError) -> None:
        self._refusal = refusal
        self._answer_and_close(refusal)

    def _answer_and_close(self, refusal: CodeloopError) -> None:
        self._disarm_deadline()
        if self.transport.is_closing():
            return
        if self._answering():
            # A pipelined request refused while the one before it is answered: an answer written now
            # would land inside that one's, so the connection just ends.
            self.transport.close()
            return
        response = error_response(refusal)
        head = [STATUS_LINE[refusal.code]]
        for name, value in [*self.server_state.default_headers, *response.raw_headers]:
            head += [name, b": ", value, b"\r\n"]
        self.transport.write(b"".join([*head, b"\r\n", response.body]))
        self.transport.close()

    def _answering(self) -> bool:
        """Whether a response is under way on this connection."""
        return self.cycle is not None and not self.cycle.response_complete

    def _arm_deadline(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.limits.header_timeout_s, self._deadline_passed)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._answering():
            # A pipelined request's head is late while the one before it is answered: that answer is
            # not cut, the connection ends after it.
            self.cycle.keep_alive = False
        elif self._in_head:
            self._refuse(
                RequestTimeout(
                    f"Request headers did not arrive within {self.limits.header_timeout_s:g} seconds."
                )
            )
        else:
            # Nothing of a request came: no answer, which a client could take for its next request's.
            self.transport.close()


def protocol_for(limits: RequestLimits) -> type[BoundedHttpProtocol]:
    """The protocol class uvicorn is given (it makes the instances itself), bound to these limits."""

    class Bounded(BoundedHttpProtocol):
        pass

    Bounded.limits = limits
    return Bounded
