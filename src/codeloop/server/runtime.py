"""What the server holds for its lifetime: the loop's runtime, and kept sessions and files beside it."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from codeloop.files import FileStore, UploadStore
from codeloop.runtime import Runtime
from codeloop.server.sessions import SessionStore


@dataclass
class ServerRuntime(Runtime):
    sessions: SessionStore
    files: FileStore
    uploads: UploadStore


def runtime_of(request: Request) -> ServerRuntime:
    runtime: ServerRuntime = request.app.state.runtime
    return runtime
