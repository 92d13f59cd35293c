"""A run on its own, fed a scripted trail of loop events: however it ends, its interaction gets a final
status, its stream the events that end it, and the conversation's interpreter is given back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator

from codeloop.errors import SandboxFailure
from codeloop.execution import Execution, Outcome
from codeloop.loop.events import CodeBlock, CodeResult, Finished, TextDelta, Usage
from codeloop.owners import ANONYMOUS
from codeloop.sandbox.base import Session, SessionCounts, SessionMemory
from codeloop.server.interactions import runs
from codeloop.server.interactions.store import InteractionLimits, InteractionStore, Record
from codeloop.wire.interactions.request import parse_create_request
from codeloop.wire.response import Returned


class UnusedSandbox:
    """The trail is scripted: no code runs, so no session opens."""

    async def open_session(self) -> Session:
        raise AssertionError("no session should open")

    @property
    def session_counts(self) -> SessionCounts:
        return SessionCounts(0)

    def session_memory(self) -> tuple[SessionMemory, ...]:
        return ()

    async def close(self) -> None:
        pass


async def begun() -> tuple[InteractionStore, Record, bool]:
    interactions = InteractionStore(UnusedSandbox(), InteractionLimits(60, 10, 10, None, 1 << 20))
    body = {"model": "m", "input": "Hi", "tools": [{"type": "code_execution"}]}
    record, session = await interactions.begin(ANONYMOUS, parse_create_request(json.dumps(body)), None)
    return interactions, record, session is not None


async def trail(*events: Returned, then: BaseException | None = None) -> AsyncGenerator[Returned, None]:
    for event in events:
        yield event
        await asyncio.sleep(0)
    if then is not None:
        raise then


async def drained(record: Record) -> list[dict]:
    return [event async for _, event in record.log.follow()]


def test_a_finished_run_is_completed_with_its_steps_and_usage() -> None:
    async def scenario() -> None:
        interactions, record, leased = await begun()
        done = trail(
            TextDelta("Hi"),
            CodeBlock("print(1)"),
            CodeResult(Execution(Outcome.OUTCOME_OK, "1\n")),
            Finished("STOP", Usage(3, 2, 1)),
        )
        await interactions.start(record, runs.drive(record, done, leased))
        assert record.task is not None
        await record.task
        said = await drained(record)
        assert said[0]["event_type"] == "interaction.created"
        assert said[-1]["event_type"] == "interaction.completed"
        assert said[-1]["interaction"]["status"] == "completed"
        assert [step["type"] for step in said[-1]["interaction"]["steps"]] == [
            "user_input",
            "model_output",
            "code_execution_call",
            "code_execution_result",
        ]
        assert record.usage is not None and record.usage.total_tokens == 6
        assert record.history_bytes > 0
        assert record.thread is not None and not record.thread.busy

    asyncio.run(scenario())


def test_a_failing_run_says_why_then_ends() -> None:
    async def scenario() -> None:
        for error, code, words in [
            (SandboxFailure("the sandbox broke"), "INTERNAL", "the sandbox broke"),
            (RuntimeError("secret detail"), "INTERNAL", "server log has the details"),
        ]:
            interactions, record, leased = await begun()
            await interactions.start(record, runs.drive(record, trail(TextDelta("Hi"), then=error), leased))
            assert record.task is not None
            await record.task
            said = await drained(record)
            assert [event["event_type"] for event in said] == [
                "interaction.created",
                "step.start",
                "step.delta",
                "step.stop",
                "error",
                "interaction.completed",
            ]
            (failure,) = [event for event in said if event["event_type"] == "error"]
            assert failure["error"]["code"] == code and words in failure["error"]["message"]
            assert "secret detail" not in json.dumps(said)
            assert record.status == "failed" and record.errors[0].code == code
            assert record.thread is not None and not record.thread.busy

    asyncio.run(scenario())


def test_a_cancelled_run_closes_its_open_step_and_gives_its_interpreter_back() -> None:
    async def scenario() -> None:
        interactions, record, leased = await begun()

        async def endless() -> AsyncGenerator[Returned, None]:
            yield TextDelta("Thinking")
            await asyncio.sleep(60)
            yield Finished("STOP", Usage())

        await interactions.start(record, runs.drive(record, endless(), leased))
        await asyncio.sleep(0.01)
        cancelled = await interactions.cancel(ANONYMOUS, record.id)
        assert cancelled is record and record.task is not None and record.task.cancelled()
        said = await drained(record)
        assert [event["event_type"] for event in said][-2:] == ["step.stop", "interaction.completed"]
        assert record.status == "cancelled" and said[-1]["interaction"]["status"] == "cancelled"
        assert record.log.closed
        assert record.thread is not None and not record.thread.busy

    asyncio.run(scenario())
