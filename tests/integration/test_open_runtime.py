"""open_runtime for real: the server's models under the server's names, a started sandbox, closed on exit."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from codeloop.errors import SandboxFailure
from codeloop.loop.engine import Conversation
from codeloop.loop.events import CodeResult
from codeloop.runtime import open_runtime
from codeloop.sandbox.base import Sandbox
from codeloop.settings import Settings


def test_a_runtime_runs_the_loop_under_the_servers_names_then_closes_its_sandbox() -> None:
    async def main() -> tuple[list[str], Sandbox]:
        async with open_runtime(Settings(model="scripted")) as runtime:
            engine = await runtime.engine("models/gemini-2.0-flash")  # answered by the default model
            conversation = Conversation.from_question("```python\nprint(6 * 7)\n```")
            async with contextlib.aclosing(engine.run(conversation)) as events:
                outputs = [e.execution.output async for e in events if isinstance(e, CodeResult)]
            return outputs, runtime.sandbox

    outputs, sandbox = asyncio.run(main())
    assert outputs == ["42\n"]

    with pytest.raises(SandboxFailure, match="closed"):
        asyncio.run(sandbox.open_session())
