"""The code-execution loop: model -> code -> sandbox -> result -> model, until a final answer."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass

import anyio
from google.genai import types

from codeloop.backends.base import Backend, Chat, Message, Sampling
from codeloop.errors import StagingFailed
from codeloop.loop import prompts
from codeloop.loop.events import CodeBlock, CodeResult, Event, Finished, TextDelta, Usage
from codeloop.loop.extract import Call, Code, FenceSplitter, Text
from codeloop.loop.functions import BadCall, Functions, call_block
from codeloop.loop.inputs import FetchFile, InputFile, InputFiles
from codeloop.loop.stops import StopScanner
from codeloop.sandbox.base import Sandbox, Session
from codeloop.sandbox.execution import Execution, Outcome


@dataclass(frozen=True)
class LoopLimits:
    max_code_blocks: int = 10
    # Gemini regenerates failing code up to five times before it gives up.
    max_consecutive_failures: int = 5
    timeout_s: float | None = None  # per block; None leaves it to the sandbox's limits


@dataclass(frozen=True)
class Conversation:
    """A request, ready for the loop. Built eagerly so bad input fails before a response starts."""

    messages: tuple[Message, ...]
    code_execution: bool
    sampling: Sampling = dataclasses.field(default_factory=Sampling)
    files: tuple[InputFile, ...] = ()  # staged in the working dir before the first block runs
    functions: Functions | None = None  # the client's functions the model may call

    @classmethod
    def from_contents(
        cls,
        contents: Iterable[types.Content],
        system_instruction: str | None = None,
        code_execution: bool = True,
        sampling: Sampling | None = None,
        fetch: FetchFile | None = None,
        max_file_bytes: int | None = None,
        functions: Functions | None = None,
    ) -> Conversation:
        """`fetch` resolves fileData URIs; `max_file_bytes` caps the files' total size."""
        inputs = InputFiles(fetch, max_file_bytes)
        tools = functions.prompt() if functions else None
        messages = prompts.render(contents, system_instruction, code_execution, inputs, tools)
        return cls(tuple(messages), code_execution, sampling or Sampling(), tuple(inputs.files), functions)

    @classmethod
    def from_question(cls, question: str, code_execution: bool = True) -> Conversation:
        return cls.from_contents(
            [types.Content(role="user", parts=[types.Part(text=question)])], code_execution=code_execution
        )


@dataclass
class _Tally:
    prompt: int = 0
    candidates: int = 0
    tool: int = 0

    def usage(self) -> Usage:
        return Usage(self.prompt, self.candidates, self.tool)


class Engine:
    """Runs conversations against one backend, executing code in sessions of one sandbox."""

    def __init__(self, backend: Backend, sandbox: Sandbox, limits: LoopLimits | None = None) -> None:
        self.backend = backend
        self.sandbox = sandbox
        self.limits = limits or LoopLimits()

    async def run(
        self, conversation: Conversation, session: Session | None = None
    ) -> AsyncGenerator[Event, None]:
        """Yield the trail as it happens; the last event is always Finished.

        Code runs in `session` when one is given (the caller keeps it, state and all), else in a
        session of its own that ends with the run."""
        messages = list(conversation.messages)
        tally = _Tally(prompt=sum(self.backend.count_tokens(m.content) for m in messages))
        opened: asyncio.Task[Session] | None = None
        if session is None and conversation.code_execution:
            # Start the interpreter while the model thinks: most answers need one.
            opened = asyncio.create_task(self.sandbox.open_session())
        blocks = failures = 0
        staged = False
        ran: dict[str, bool] = {}  # each block that ran, and whether it ran well
        answer_now = False
        try:
            while True:
                # Past its limits the model must answer in text: code it still writes stays text.
                may_run = conversation.code_execution and not answer_now and not self._spent(blocks, failures)
                chat = Chat(tuple(messages), may_run, self._remaining(conversation.sampling, tally))
                text, code, call, finish = "", None, None, "STOP"
                async for piece in self._generate(chat, conversation.functions is not None):
                    if isinstance(piece, Text):
                        text += piece.text
                        yield TextDelta(piece.text)
                    elif isinstance(piece, Code):
                        code = piece.code
                    elif isinstance(piece, Call):
                        call = piece.raw
                    else:
                        finish = piece
                generated = text + (prompts.fence(code) if code is not None else "")
                if call is not None:
                    generated += call_block(call)
                tally.candidates += self.backend.count_tokens(generated)
                if call is not None:
                    assert conversation.functions is not None
                    try:
                        yield conversation.functions.check(call)
                    except BadCall as exc:
                        # The model hears what is wrong and tries again; the client never sees it.
                        messages += [Message("assistant", generated), Message("tool", str(exc))]
                        failures += 1
                        if failures >= self.limits.max_consecutive_failures:
                            yield Finished("MALFORMED_FUNCTION_CALL", tally.usage())
                            return
                        continue
                    yield Finished(finish, tally.usage())
                    return
                if code is None:
                    yield Finished(finish, tally.usage())
                    return
                if code in ran:
                    # Running a block again only repeats its output; small models need telling.
                    note = prompts.REPEATED_SUCCESS if ran[code] else prompts.REPEATED_FAILURE
                    messages += [Message("assistant", generated), Message("user", note)]
                    answer_now = answer_now or ran[code]
                    failures += not ran[code]
                    continue
                yield CodeBlock(code)
                runner = session if session is not None else await _opened(opened)
                try:
                    if not staged:
                        for file in conversation.files:
                            await runner.put_file(file.name, file.data)
                        staged = True
                    execution = await runner.run(code, self.limits.timeout_s)
                except StagingFailed as exc:
                    # Staged again before the next block, into the interpreter that replaces this one.
                    execution = Execution(Outcome.OUTCOME_FAILED, f"The block was not run: {exc.message}.\n")
                yield CodeResult(execution)
                result = prompts.result_message(execution)
                tally.tool += self.backend.count_tokens(result.content)
                messages += [Message("assistant", generated), result]
                blocks += 1
                failures = 0 if execution.ok else failures + 1
                ran[code] = execution.ok
                if self._remaining(conversation.sampling, tally).max_tokens == 0:
                    yield Finished("MAX_TOKENS", tally.usage())
                    return
        finally:
            if opened is not None:
                await _close_session(opened)

    async def _generate(self, chat: Chat, calls: bool) -> AsyncIterator[Text | Code | Call | str]:
        """One model call as pieces: text, then at most one complete code block or function call,
        then the finish reason.

        Generation stops the moment a block closes (what a model writes after its code would only
        be a guess at the output) or a stop sequence appears in the text."""
        splitter = FenceSplitter(detect_code=chat.code_execution, detect_calls=calls)
        stops = StopScanner(chat.sampling.stop)
        finish = "STOP"
        async with contextlib.aclosing(self.backend.stream(chat)) as chunks:
            async for chunk in chunks:
                for piece in splitter.feed(chunk.text):
                    if isinstance(piece, Code | Call):
                        if text := stops.flush():
                            yield Text(text)
                        yield piece
                        return
                    if text := stops.feed(piece.text):
                        yield Text(text)
                    if stops.stopped:
                        yield "STOP"
                        return
                finish = chunk.finish_reason or finish
        tail = splitter.finish(truncated=finish == "MAX_TOKENS")
        for piece in tail:
            if isinstance(piece, Text) and (text := stops.feed(piece.text)):
                yield Text(text)
        if text := stops.flush():
            yield Text(text)
        for piece in tail:
            if isinstance(piece, Code | Call):
                yield piece
                break
        yield finish

    def _spent(self, blocks: int, failures: int) -> bool:
        return blocks >= self.limits.max_code_blocks or failures >= self.limits.max_consecutive_failures

    @staticmethod
    def _remaining(sampling: Sampling, tally: _Tally) -> Sampling:
        if sampling.max_tokens is None:
            return sampling
        return dataclasses.replace(sampling, max_tokens=max(0, sampling.max_tokens - tally.candidates))


async def _opened(task: asyncio.Task[Session] | None) -> Session:
    assert task is not None, "code runs only where code execution is on"
    return await task


async def _close_session(task: asyncio.Task[Session]) -> None:
    # Shielded: the loop may be closing because its client went away, and a session must never leak.
    with anyio.CancelScope(shield=True):
        try:
            session = await task
        except BaseException:
            return  # it never opened; whoever needed it has seen why
        await session.close()
