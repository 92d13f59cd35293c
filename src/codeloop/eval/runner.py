"""Running a suite's items through the loop, K at a time, and grading each trail into a record."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from google.genai import types

from codeloop.backends.base import Sampling
from codeloop.eval.items import Graded, Item, Record, Trail
from codeloop.eval.suites.base import Suite
from codeloop.execution import Outcome
from codeloop.fences import fence
from codeloop.loop.engine import Conversation, Engine
from codeloop.loop.events import CodeBlock, CodeResult, Finished, TextDelta, Usage

# Greedy decoding with a fixed seed: the same model gives the same answers run after run.
# The token cap covers a whole item, every loop iteration included.
GREEDY = Sampling(temperature=0.0, seed=0, max_tokens=1024)


async def run_suite(
    engine: Engine,
    suite: Suite,
    items: Sequence[Item],
    code_execution: bool,
    workers: int = 1,
    sampling: Sampling = GREEDY,
    on_record: Callable[[Record], None] | None = None,
) -> list[Record]:
    """One record per item, in the items' order; `on_record` sees each as it is done."""
    slots = asyncio.Semaphore(max(1, workers))

    async def one(item: Item) -> Record:
        async with slots:
            record = await run_item(engine, suite, item, code_execution, sampling)
        if on_record is not None:
            on_record(record)
        return record

    return list(await asyncio.gather(*(one(item) for item in items)))


async def run_item(
    engine: Engine, suite: Suite, item: Item, code_execution: bool, sampling: Sampling = GREEDY
) -> Record:
    """The loop on one item, graded. A loop that raises is recorded as a wrong answer with its error."""
    conversation = Conversation.from_contents(
        [types.Content(role="user", parts=question_parts(item))],
        code_execution=code_execution,
        sampling=sampling,
    )
    started = time.perf_counter()
    try:
        trail = await collect(engine, conversation)
    except Exception as exc:
        seconds = time.perf_counter() - started
        empty = Trail("", "", (), (), "ERROR", Usage(), seconds)
        return record_of(item, empty, Graded(None, False), error=f"{type(exc).__name__}: {exc}")
    return record_of(item, trail, await suite.grade(item, trail, engine.sandbox))


def question_parts(item: Item) -> list[types.Part]:
    """The user turn as a client sends it: the question, then each attached file as inlineData."""
    files = [
        types.Part(
            inline_data=types.Blob(data=file.data, mime_type=file.mime_type, display_name=file.display_name)
        )
        for file in item.attachments
    ]
    return [types.Part(text=item.question), *files]


async def collect(engine: Engine, conversation: Conversation) -> Trail:
    transcript: list[str] = []
    text = ""
    code: list[str] = []
    executions = []
    finish, usage = "STOP", Usage()
    started = time.perf_counter()
    async with contextlib.aclosing(engine.run(conversation)) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                transcript.append(event.text)
                text += event.text
            elif isinstance(event, CodeBlock):
                transcript.append(
                    ("\n" if transcript and not transcript[-1].endswith("\n") else "") + fence(event.code)
                )
                code.append(event.code)
            elif isinstance(event, CodeResult):
                executions.append(event.execution)
                text = ""  # the final answer is what comes after the last result
            elif isinstance(event, Finished):
                finish, usage = event.finish_reason, event.usage
    seconds = time.perf_counter() - started
    return Trail("".join(transcript), text, tuple(code), tuple(executions), finish, usage, seconds)


def record_of(item: Item, trail: Trail, graded: Graded, error: str | None = None) -> Record:
    outcomes = [execution.outcome for execution in trail.executions]
    usage = trail.usage
    return Record(
        id=item.id,
        question=item.question,
        expected=item.expected,
        answer=graded.answer,
        correct=graded.correct,
        blocks=len(trail.code),
        failures=outcomes.count(Outcome.OUTCOME_FAILED),
        deadlines=outcomes.count(Outcome.OUTCOME_DEADLINE_EXCEEDED),
        prompt_tokens=usage.prompt_tokens,
        candidates_tokens=usage.candidates_tokens,
        tool_tokens=usage.tool_use_prompt_tokens,
        tokens=usage.total_tokens,
        seconds=round(trail.seconds, 3),
        finish_reason=trail.finish_reason,
        text=trail.text,
        code=trail.code,
        error=error,
    )
