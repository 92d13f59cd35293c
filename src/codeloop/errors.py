"""The one exception tree of codeloop; the HTTP edge renders each as Google's error body.

    CodeloopError                 500 INTERNAL
    ├── InvalidRequest            400 INVALID_ARGUMENT
    │   └── PayloadTooLarge       413 INVALID_ARGUMENT
    ├── Unauthenticated           401 UNAUTHENTICATED
    ├── PermissionDenied          403 PERMISSION_DENIED
    ├── NotFound                  404 NOT_FOUND
    │   └── ModelNotFound         404 NOT_FOUND
    ├── Aborted                   409 ABORTED
    ├── AlreadyExists             409 ALREADY_EXISTS
    ├── QuotaExceeded             429 RESOURCE_EXHAUSTED
    ├── BackendUnavailable        503 UNAVAILABLE
    └── SandboxFailure            500 INTERNAL
        └── StagingFailed         500 INTERNAL

Failing user code is not an error of ours: it is an execution outcome (OUTCOME_FAILED,
OUTCOME_DEADLINE_EXCEEDED). SandboxFailure means the sandbox itself broke. StagingFailed, an input
file that could not be written into a session, may be the doing of an earlier block of that session
(a full disk, a hooked interpreter): the loop reports it as the failed block it was to run.
"""

from __future__ import annotations


class CodeloopError(Exception):
    code = 500
    status = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(CodeloopError):
    code = 400
    status = "INVALID_ARGUMENT"


class PayloadTooLarge(InvalidRequest):
    code = 413


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


class QuotaExceeded(CodeloopError):
    code = 429
    status = "RESOURCE_EXHAUSTED"


class BackendUnavailable(CodeloopError):
    code = 503
    status = "UNAVAILABLE"


class SandboxFailure(CodeloopError):
    code = 500
    status = "INTERNAL"


class StagingFailed(SandboxFailure):
    """An input file could not be staged in a session's working dir."""
