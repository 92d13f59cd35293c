"""What the server holds for its lifetime: settings, the served models, the sandbox, kept sessions, files."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import Request

from codeloop.backends.base import Backend
from codeloop.backends.registry import Registry
from codeloop.files import FileStore, UploadStore
from codeloop.loop.engine import Engine
from codeloop.sandbox.base import Sandbox
from codeloop.server.sessions import SessionStore
from codeloop.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    registry: Registry
    sandbox: Sandbox
    sessions: SessionStore
    files: FileStore
    uploads: UploadStore

    async def backend(self, model: str) -> Backend:
        """The model's backend; loading one for its first request happens off the event loop."""
        return await asyncio.to_thread(self.registry.resolve, model)

    async def engine(self, model: str) -> Engine:
        return Engine(await self.backend(model), self.sandbox, self.settings.loop_limits)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
