"""The code-execution loop: model -> code -> sandbox -> result -> model, until a final answer."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass

import anyio
from google.genai import types

from codeloop.backends.base import Backend, Chat, Chunk, Message, ParallelSampling, Sampling
from codeloop.errors import StagingFailed
from codeloop.execution import Execution, NamedFile, Outcome
from codeloop.fences import Call, Code, FenceSplitter, Text, call_block, fence, find_code_blocks
from codeloop.logprobs import TokenLogprob
from codeloop.loop import prompts
from codeloop.loop.events import CodeBlock, CodeResult, Event, Finished, OutputPiece, TextDelta, Usage
from codeloop.loop.functions import BadCall, Functions
from codeloop.loop.grounding import Grounding
from codeloop.loop.inputs import FetchFile, InputFiles
from codeloop.loop.limits import LoopLimits
from codeloop.loop.live import LiveOutput
from codeloop.loop.policy import AnswerPolicy
from codeloop.loop.quotes import restore_quotes
from codeloop.loop.recital import computes_nothing
from codeloop.loop.stops import StopScanner
from codeloop.loop.triage import needs_code
from codeloop.loop.voting import winner
from codeloop.sandbox.base import Sandbox, Session
from codeloop.sandbox.output import Listener


@dataclass(frozen=True)
class Conversation:
    """A request, ready for the loop. Built eagerly so bad input fails before a response starts."""

    messages: tuple[Message, ...]
    code_execution: bool
    sampling: Sampling = dataclasses.field(default_factory=Sampling)
    files: tuple[NamedFile, ...] = ()  # staged in the working dir before the first block runs
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


@dataclass
class _Reply:
    """What one model call wrote: its text, then at most one code block or function call."""

    text: str = ""
    code: str | None = None
    call: str | None = None  # the raw JSON of a <tool_call>
    finish: str = "STOP"

    @property
    def written(self) -> str:
        """The reply as the model wrote it, as it goes back into the conversation."""
        block = fence(self.code) if self.code is not None else ""
        return self.text + block + (call_block(self.call) if self.call is not None else "")


class Engine:
    """Runs conversations against one backend, executing code in sessions of one sandbox."""

    def __init__(
        self,
        backend: Backend,
        sandbox: Sandbox,
        limits: LoopLimits | None = None,
        policy: AnswerPolicy | None = None,
    ) -> None:
        self.backend = backend
        self.sandbox = sandbox
        self.limits = limits or LoopLimits()
        self.policy = policy or AnswerPolicy()

    async def run(
        self, conversation: Conversation, session: Session | None = None, live_output: bool = False
    ) -> AsyncGenerator[Event, None]:
        """Yield the trail as it happens; the last event is always Finished.

        Code runs in `session` when one is given (the caller keeps it, state and all), else in a
        session of its own that ends with the run. With `live_output`, a running block's output
        comes as OutputPiece events before its CodeResult."""
        run = _Run(self, conversation, session, live_output)
        try:
            while True:
                async with contextlib.aclosing(run.turn()) as events:
                    async for event in events:
                        yield event
                        if isinstance(event, Finished):
                            return
        finally:
            await run.close()


class _Run:
    """One run of the loop and its state: the conversation so far, the tally, the blocks that ran.

    Each turn is one model call, then the step its reply asks for: a function call, a repeated
    block, a code block or the final answer. A step yields its events; one that ends the run yields
    Finished last."""

    def __init__(
        self, engine: Engine, conversation: Conversation, session: Session | None, live_output: bool = False
    ) -> None:
        self.backend = engine.backend
        self.sandbox = engine.sandbox
        self.limits = engine.limits
        self.policy = engine.policy
        self.conversation = conversation
        self.messages = list(conversation.messages)
        self.tally = _Tally(prompt=sum(self.backend.count_tokens(m.content) for m in self.messages))
        self.session = session
        self.live_output = live_output
        self.opened: asyncio.Task[Session] | None = None
        self.spawned: Session | None = None  # a vote's winning interpreter, when not the first
        if session is None and conversation.code_execution:
            # Start the interpreter while the model thinks: most answers need one.
            self.opened = asyncio.create_task(self.sandbox.open_session())
        self.blocks = self.failures = 0
        self.staged = False
        self.ran: dict[str, bool] = {}  # each block that ran, and whether it ran well
        self.printed: list[str] = []  # what the blocks that ran well printed
        self.answer_now = False
        self.recital_refused = False  # whether a program that computes nothing was sent back
        asked = [m.content for m in conversation.messages if m.role == "user"]
        self.asked = asked  # the user's words: numbers in them are never "corrected"
        self.code_first = (
            self.policy.compute_first
            and self.backend.prefills
            and conversation.code_execution
            and conversation.functions is None
            and bool(asked)
            and needs_code(asked[-1], has_files=bool(conversation.files))
        )
        self.spent: str | None = None  # which limit stopped the model running code, once one has
        self.ids: set[str] = set()
        self.logprobs: list[TokenLogprob] = []

    async def turn(self) -> AsyncGenerator[Event, None]:
        """The model's text as it streams, then the events of the step its reply asks for."""
        chat = self._chat()
        if self._voting(chat):
            async for event in self._voted_turn(chat):
                yield event
            return
        reply = _Reply()
        grounding = (
            Grounding(self.printed, self.asked) if self.policy.ground_numbers and self.printed else None
        )
        async with contextlib.aclosing(self._generate(chat)) as pieces:
            async for piece in pieces:
                if isinstance(piece, Text):
                    text = grounding.feed(piece.text) if grounding else piece.text
                else:  # the text has ended: what the grounding held back goes out first
                    text = grounding.flush() if grounding else ""
                if text:
                    reply.text += text
                    yield TextDelta(text)
                if isinstance(piece, Code):
                    reply.code = piece.code
                elif isinstance(piece, Call):
                    reply.call = piece.raw
                elif isinstance(piece, str):
                    reply.finish = piece
        self.tally.candidates += self.backend.count_tokens(reply.written)
        if reply.code is not None and self.policy.restore_quotes and self.asked:
            reply.code = restore_quotes(reply.code, self.asked[-1])
        if reply.call is not None:
            step = self._function_call(reply, reply.call)
        elif reply.code is None:
            step = self._answer(reply)
        elif reply.code in self.ran:
            step = self._repeated_block(reply, reply.code)
        elif self.code_first and not self.recital_refused and computes_nothing(reply.code):
            step = self._recited_block(reply)
        else:
            step = self._code_block(reply, reply.code)
        async with contextlib.aclosing(step) as events:  # closed at once: a running block ends with it
            async for event in events:
                yield event

    async def _function_call(self, reply: _Reply, raw: str) -> AsyncGenerator[Event, None]:
        assert self.conversation.functions is not None
        try:
            call = self.conversation.functions.check(raw)
        except BadCall as exc:
            # The model hears what is wrong and tries again; the client never sees it.
            self.messages += [Message("assistant", reply.written), Message("tool", str(exc))]
            self.failures += 1
            if self.failures >= self.limits.max_consecutive_failures:
                yield self._finished(
                    "MALFORMED_FUNCTION_CALL",
                    f"The model wrote {self.failures} function calls in a row that do not fit the "
                    f"declared functions; the last: {exc}",
                )
            return
        yield dataclasses.replace(call, id=self._new_id())
        yield self._finished(reply.finish)

    async def _answer(self, reply: _Reply) -> AsyncGenerator[Event, None]:
        if reply.finish == "STOP" and self.spent and find_code_blocks(reply.text):
            # Gemini's word for a tool loop cut short: the model still wanted code run.
            yield self._finished(
                "TOO_MANY_TOOL_CALLS", f"{self.spent}, so the code in the model's last reply was not run."
            )
            return
        yield self._finished(reply.finish)

    async def _repeated_block(self, reply: _Reply, code: str) -> AsyncGenerator[Event, None]:
        """Nothing for the client: running a block again would only repeat its output, so the model
        is told so (small models loop otherwise), and asked for its answer if the block ran well."""
        ok = self.ran[code]
        note = prompts.REPEATED_SUCCESS if ok else prompts.REPEATED_FAILURE
        self.messages += [Message("assistant", reply.written), Message("user", note)]
        self.answer_now = self.answer_now or ok
        self.failures += not ok
        return
        yield  # a step like the others, which yield their events

    async def _recited_block(self, reply: _Reply) -> AsyncGenerator[Event, None]:
        """Nothing for the client: a program that only prints a value written into it is the
        model's recalled answer in disguise, so it is asked, once, for a program that computes."""
        self.recital_refused = True
        self.messages += [Message("assistant", reply.written), Message("user", prompts.COMPUTE_IT)]
        return
        yield  # a step like the others, which yield their events

    async def _code_block(self, reply: _Reply, code: str) -> AsyncGenerator[Event, None]:
        block_id = self._new_id()
        yield CodeBlock(code, id=block_id)
        if self.live_output:
            live = LiveOutput()
            running = asyncio.ensure_future(self._execute(code, live.feed))
            running.add_done_callback(lambda _: live.close())
            try:
                async for text in live.pieces():
                    yield OutputPiece(text, id=block_id)
                execution = await running
            finally:
                await _cancel(running)  # the client went away mid-block: the run ends with it
        else:
            execution = await self._execute(code)
        async for event in self._ran(reply, code, execution, block_id):
            yield event

    async def _execute(self, code: str, on_output: Listener | None = None) -> Execution:
        try:
            session = await self._session()
            return await session.run(code, self.limits.timeout_s, on_output)
        except StagingFailed as exc:
            # Staged again before the next block, into the interpreter that replaces this one.
            return _not_run(exc)

    async def _ran(
        self, reply: _Reply, code: str, execution: Execution, block_id: str
    ) -> AsyncIterator[Event]:
        """A block's result, for the client and for the model's next turn."""
        yield CodeResult(execution, id=block_id)
        result = prompts.result_message(
            execution.outcome, execution.output, [file.name for file in self.conversation.files]
        )
        self.tally.tool += self.backend.count_tokens(result.content)
        self.messages += [Message("assistant", reply.written), result]
        self.blocks += 1
        self.failures = 0 if execution.ok else self.failures + 1
        self.ran[code] = execution.ok
        if execution.ok:
            self.printed.append(execution.output)
        if self._sampling().max_tokens == 0:
            yield self._finished("MAX_TOKENS")

    async def _session(self) -> Session:
        """The session code runs in, the request's files staged in it before its first block."""
        if self.session is None:
            assert self.opened is not None, "code runs only where code execution is on"
            self.session = await self.opened
        if not self.staged:
            await self._stage(self.session)
            self.staged = True
        return self.session

    async def _stage(self, session: Session) -> None:
        for file in self.conversation.files:
            await session.put_file(file.name, file.data)

    def _voting(self, chat: Chat) -> bool:
        """Whether this turn's program is chosen by a vote: the first program of a request whose
        interpreter starts afresh (a kept session's state must not see the losers' side effects)."""
        return (
            self.policy.votes > 1
            and bool(chat.prefix)
            and self.opened is not None
            and self.session is None
            and isinstance(self.backend, ParallelSampling)
        )

    async def _voted_turn(self, chat: Chat) -> AsyncIterator[Event]:
        """Several programs written at once, each run in a fresh interpreter; the one whose answer
        most of them share is the model's reply, its interpreter the request's from then on."""
        assert isinstance(self.backend, ParallelSampling)
        prefix = chat.prefix
        samples = await self.backend.sample_many(
            chat, self.policy.votes, self.policy.vote_temperature, lambda text: _closes_a_block(prefix + text)
        )
        replies = [_read(chat.prefix + sample.text, sample.finish_reason) for sample in samples]
        self.tally.candidates += sum(sample.tokens for sample in samples)
        programs = [reply for reply in replies if reply.code is not None]
        if not programs:
            if replies[0].text:
                yield TextDelta(replies[0].text)
            async for event in self._answer(replies[0]):
                yield event
            return
        codes = list(dict.fromkeys(reply.code for reply in programs if reply.code is not None))
        assert self.opened is not None
        sessions = [await self.opened]
        try:
            for _ in codes[1:]:
                sessions.append(await self.sandbox.open_session())
            runs = await asyncio.gather(
                *(self._staged_run(session, code) for session, code in zip(sessions, codes, strict=True))
            )
        except BaseException:
            await self._keep_only(sessions[0], sessions)
            raise
        best = programs[winner([runs[codes.index(str(reply.code))][0] for reply in programs])]
        assert best.code is not None
        execution, self.staged = runs[codes.index(best.code)]
        await self._keep_only(sessions[codes.index(best.code)], sessions)
        if best.text:
            yield TextDelta(best.text)
        block_id = self._new_id()
        yield CodeBlock(best.code, id=block_id)
        async for event in self._ran(best, best.code, execution, block_id):
            yield event

    async def _staged_run(self, session: Session, code: str) -> tuple[Execution, bool]:
        """A vote's program run in its own interpreter, the request's files staged first; and
        whether they were."""
        try:
            await self._stage(session)
        except StagingFailed as exc:
            return _not_run(exc), False
        return await session.run(code, self.limits.timeout_s), True

    async def _keep_only(self, chosen: Session, sessions: list[Session]) -> None:
        """The vote's winner becomes the request's interpreter; the others end now."""
        for session in sessions:
            if session is not chosen:
                await _close_quietly(session)
        if chosen is not sessions[0]:
            self.opened = None  # closed above: the run now closes the winner instead
            self.spawned = chosen
        self.session = chosen

    def _chat(self) -> Chat:
        # Past its limits the model must answer in text: code it still writes stays text.
        if not self.conversation.code_execution:
            self.spent = None
        elif self.blocks >= self.limits.max_code_blocks:
            self.spent = f"The loop ran its limit of {self.limits.max_code_blocks} code blocks"
        elif self.failures >= self.limits.max_consecutive_failures:
            self.spent = f"{self.failures} code blocks failed in a row, the limit"
        may_run = self.conversation.code_execution and not self.answer_now and not self.spent
        # The first reply to a question that needs computing starts as a program.
        prefix = "```python\n" if may_run and self.code_first and not self.ran else ""
        return Chat(tuple(self.messages), may_run, self._sampling(), prefix)

    def _sampling(self) -> Sampling:
        """The request's sampling, its token budget less what the model has written."""
        sampling = self.conversation.sampling
        if sampling.max_tokens is None:
            return sampling
        return dataclasses.replace(sampling, max_tokens=max(0, sampling.max_tokens - self.tally.candidates))

    def _finished(self, reason: str, message: str | None = None) -> Finished:
        if reason == "MAX_TOKENS" and message is None:
            limit = self.conversation.sampling.max_tokens
            message = (
                f"The response reached its limit of {limit} output tokens (maxOutputTokens)."
                if limit is not None
                else "The model ran out of room in its context window."
            )
        wanted = self.conversation.sampling.logprobs is not None
        return Finished(reason, self.tally.usage(), message, tuple(self.logprobs) if wanted else None)

    def _new_id(self) -> str:
        """An id for a code block or a function call, unique within the run (and, by chance, beyond)."""
        while (new := secrets.token_urlsafe(9)) in self.ids:
            pass
        self.ids.add(new)
        return new

    async def _generate(self, chat: Chat) -> AsyncGenerator[Text | Code | Call | str, None]:
        """One model call as pieces: text, then at most one complete code block or function call,
        then the finish reason.

        Generation stops the moment a block closes (what a model writes after its code would only
        be a guess at the output) or a stop sequence appears in the text."""
        calls = self.conversation.functions is not None
        splitter = FenceSplitter(detect_code=chat.code_execution, detect_calls=calls)
        stops = StopScanner(chat.sampling.stop)
        finish = "STOP"
        prefix = chat.prefix if self.backend.prefills else ""
        async with contextlib.aclosing(self.backend.stream(chat)) as chunks:
            async for chunk in _after(prefix, chunks):
                self.logprobs.extend(chunk.logprobs)
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

    async def close(self) -> None:
        if self.opened is not None:
            await _close_session(self.opened)
        if self.spawned is not None:
            await _close_quietly(self.spawned)


async def _after(prefix: str, chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    """The reply as the model wrote it: the prefix it was given, then what it went on to write."""
    if prefix:
        yield Chunk(prefix)
    async for chunk in chunks:
        yield chunk


def _not_run(failure: StagingFailed) -> Execution:
    return Execution(Outcome.OUTCOME_FAILED, f"The block was not run: {failure.message}.\n")


def _closes_a_block(text: str) -> bool:
    """Whether a reply has written a whole code block: a vote's program ends there."""
    return any(isinstance(piece, Code) for piece in FenceSplitter().feed(text))


def _read(text: str, finish: str) -> _Reply:
    """A whole reply, as the streaming path would have read it: its text and its first block."""
    splitter = FenceSplitter()
    reply = _Reply(finish=finish)
    for piece in splitter.feed(text) + splitter.finish(truncated=finish == "MAX_TOKENS"):
        if isinstance(piece, Code):
            reply.code = piece.code
            break
        if isinstance(piece, Text):
            reply.text += piece.text
    return reply


async def _cancel(task: asyncio.Future[Execution]) -> None:
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _close_quietly(session: Session) -> None:
    with anyio.CancelScope(shield=True):
        with contextlib.suppress(Exception):
            await session.close()


async def _close_session(task: asyncio.Task[Session]) -> None:
    # Shielded: the loop may be closing because its client went away, and a session must never leak.
    with anyio.CancelScope(shield=True):
        try:
            session = await task
        except BaseException:
            return  # it never opened; whoever needed it has seen why
        await session.close()
