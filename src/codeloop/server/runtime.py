"""What the server holds for its lifetime: the loop's runtime, and kept sessions, interactions and files
beside it."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from codeloop.files import FileStore, UploadStore
from codeloop.runtime import Runtime
from codeloop.server.interactions.store import InteractionStore
from codeloop.server.sessions import SessionStore


@dataclass
class ServerRuntime(Runtime):
    sessions: SessionStore
    files: FileStore
    uploads: UploadStore
    interactions: InteractionStore


def runtime_of(request: Request) -> ServerRuntime:
    runtime: ServerRuntime = request.app.state.runtime
    return runtime
