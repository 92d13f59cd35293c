"""The composition root: the served models and the sandbox, opened together for whatever runs the loop.

`codeloop serve`, `ask`, `eval` and `bench model` all enter open_runtime(settings), so each serves
the same models under the same names (the server's aliases included) and closes what it opened in
the same order: the sandbox first, its sessions ending with it, then the models.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from codeloop.backends.base import Backend, Chat, Sampling
from codeloop.backends.registry import Registry
from codeloop.loop.engine import Conversation, Engine
from codeloop.sandbox.base import Sandbox
from codeloop.sandbox.factory import start_sandbox
from codeloop.settings import Settings


@dataclass
class Runtime:
    """What running the loop needs: the settings, the served models, a started sandbox."""

    settings: Settings
    registry: Registry
    sandbox: Sandbox

    async def backend(self, model: str) -> Backend:
        """The model's backend; loading one for its first use happens off the event loop."""
        return await asyncio.to_thread(self.registry.resolve, model)

    async def engine(self, model: str) -> Engine:
        return Engine(
            await self.backend(model),
            self.sandbox,
            self.settings.loop_limits,
            self.settings.answer_policy,
        )


def registry_for(settings: Settings) -> Registry:
    """The models settings serve, under their names and aliases; InvalidRequest for an unknown default."""
    return Registry(settings.model, settings.model_aliases, settings.backend_options)


async def _start_sandbox(settings: Settings) -> Sandbox:
    """This machine's sandbox; with --ray, one over the cluster's sandbox nodes (ray imported only then)."""
    if settings.ray is None:
        return await start_sandbox(settings.sandbox_limits, settings.sandbox_config)
    from codeloop.cluster.sandbox import start_ray_sandbox

    return await start_ray_sandbox(
        settings.sandbox_limits, settings.sandbox_config, settings.ray, settings.ray_lease_s
    )


async def _load(registry: Registry, model: str) -> None:
    """Load the model, then evaluate the loop's system prompt once where the model keeps a cache
    (embedded models): the first question then copies those cells instead of waiting for them."""
    backend = await asyncio.to_thread(registry.resolve, model)
    if not backend.prefills:
        return
    greeting = tuple(Conversation.from_question("Hi").messages)
    async for _ in backend.stream(Chat(greeting, True, Sampling(temperature=0, seed=0, max_tokens=1))):
        pass


@asynccontextmanager
async def open_runtime(settings: Settings, registry: Registry | None = None) -> AsyncIterator[Runtime]:
    """registry_for(settings), with the default model loaded, and the sandbox, started; SandboxFailure
    (with what to do) where isolation is impossible.

    A caller that must refuse a bad model before anything starts passes the registry it built
    ahead with registry_for(settings); it is closed on exit all the same."""
    registry = registry or registry_for(settings)
    try:
        # The default model loads (off the event loop) while the sandbox starts: the first answer
        # should wait for neither.
        loading = asyncio.ensure_future(_load(registry, settings.model))
        try:
            sandbox = await _start_sandbox(settings)
        except BaseException:
            # A thread cannot be stopped: wait for the model it is loading, so that closing the
            # registry closes that one too.
            await asyncio.gather(loading, return_exceptions=True)
            raise
        try:
            await loading
            yield Runtime(settings, registry, sandbox)
        finally:
            await sandbox.close()
    finally:
        await registry.aclose()
