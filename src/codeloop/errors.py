"""The one exception tree of codeloop; the HTTP edge renders each as Google's error body.

    CodeloopError                 500 INTERNAL
    ├── InvalidRequest            400 INVALID_ARGUMENT
    │   ├── PayloadTooLarge       413 INVALID_ARGUMENT
    │   └── HeadersTooLarge       431 INVALID_ARGUMENT   connection closed
    ├── Unauthenticated           401 UNAUTHENTICATED
    ├── PermissionDenied          403 PERMISSION_DENIED
    ├── NotFound                  404 NOT_FOUND
    │   └── ModelNotFound         404 NOT_FOUND
    ├── Aborted                   409 ABORTED
    ├── AlreadyExists             409 ALREADY_EXISTS
    ├── RequestTimeout            408 DEADLINE_EXCEEDED  connection closed
    ├── QuotaExceeded             429 RESOURCE_EXHAUSTED Retry-After
    ├── BackendUnavailable        503 UNAVAILABLE
    │   ├── DiskFull              503 UNAVAILABLE
    │   └── SessionLost           503 UNAVAILABLE
    └── SandboxFailure            500 INTERNAL
        └── StagingFailed         500 INTERNAL

Failing user code is not an error of ours: it is an execution outcome (OUTCOME_FAILED,
OUTCOME_DEADLINE_EXCEEDED). SandboxFailure means the sandbox itself broke. StagingFailed, an input
file that could not be written into a session, may be the doing of an earlier block of that session
(a full disk, a hooked interpreter): the loop reports it as the failed block it was to run.

A class may ask for headers on its answer: Retry-After (retry_after_s), and Connection: close
(closes_connection) where the request was not read whole, so what is left of it is never taken for
the next request.
"""

from __future__ import annotations


class CodeloopError(Exception):
    code = 500
    status = "INTERNAL"
    retry_after_s: int | None = None
    closes_connection = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(CodeloopError):
    code = 400
    status = "INVALID_ARGUMENT"


class PayloadTooLarge(InvalidRequest):
    code = 413


class HeadersTooLarge(InvalidRequest):
    """A request line and header section over the server's bounds, in bytes or in fields."""

    code = 431
    closes_connection = True


class Unauthenticated(CodeloopError):
    code = 401
    status = "UNAUTHENTICATED"


class PermissionDenied(CodeloopError):
    code = 403
    status = "PERMISSION_DENIED"


class NotFound(CodeloopError):
    code = 404
    status = "NOT_FOUND"


class ModelNotFound(NotFound):
    def __init__(self, model: str) -> None:
        super().__init__(f"models/{model} is not found. Call ListModels to see the available models.")
        self.model = model


class Aborted(CodeloopError):
    """A conflict with concurrent work, such as a session busy with another request."""

    code = 409
    status = "ABORTED"


class AlreadyExists(CodeloopError):
    """A resource the request would create exists already, such as a file id chosen by the client."""

    code = 409
    status = "ALREADY_EXISTS"


class RequestTimeout(CodeloopError):
    """The client took too long to send its request: headers or body."""

    code = 408
    status = "DEADLINE_EXCEEDED"
    closes_connection = True


class QuotaExceeded(CodeloopError):
    code = 429
    status = "RESOURCE_EXHAUSTED"
    retry_after_s = 1  # what frees the resource (a request ending, a file expiring) comes and goes


class BackendUnavailable(CodeloopError):
    code = 503
    status = "UNAVAILABLE"


class DiskFull(BackendUnavailable):
    """The server's own disk is full (ENOSPC, EDQUOT): not the caller's quota, so not a 429."""


class SessionLost(BackendUnavailable):
    """A session's sandbox node (on a Ray cluster) is gone or does not answer: its state is lost."""


class SandboxFailure(CodeloopError):
    code = 500
    status = "INTERNAL"


class StagingFailed(SandboxFailure):
    """An input file could not be staged in a session's working dir."""
