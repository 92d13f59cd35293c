"""The loop against the scripted backend and an in-memory sandbox."""

from __future__ import annotations

import asyncio
import contextlib

from codeloop.backends.base import Sample, Sampling
from codeloop.backends.scripted import ScriptedBackend
from codeloop.errors import StagingFailed
from codeloop.execution import Execution, NamedFile, Outcome
from codeloop.loop import prompts
from codeloop.loop.engine import Conversation, Engine
from codeloop.loop.events import CodeBlock, CodeResult, Event, Finished, OutputPiece, TextDelta
from codeloop.loop.limits import LoopLimits
from codeloop.loop.policy import AnswerPolicy
from codeloop.sandbox.base import SessionCounts, SessionMemory


class FakeSession:
    def __init__(self, sandbox: FakeSandbox) -> None:
        self.sandbox = sandbox

    async def put_file(self, name: str, data: bytes) -> None:
        self.sandbox.files[name] = data

    async def run(self, code: str, timeout_s: float | None = None, on_output: object = None) -> Execution:
        self.sandbox.ran.append(code)
        if "fail" in code:
            return Execution(Outcome.OUTCOME_FAILED, "Traceback: failed\n")
        return Execution(Outcome.OUTCOME_OK, f"ran {len(self.sandbox.ran)}\n")

    async def close(self) -> None:
        self.sandbox.closed += 1


class FakeSandbox:
    def __init__(self) -> None:
        self.ran: list[str] = []
        self.files: dict[str, bytes] = {}
        self.opened = self.closed = 0

    async def open_session(self) -> FakeSession:
        self.opened += 1
        return FakeSession(self)

    @property
    def session_counts(self) -> SessionCounts:
        return SessionCounts(self.opened - self.closed)

    def session_memory(self) -> tuple[SessionMemory, ...]:
        return ()

    async def close(self) -> None:
        pass


def run(question: str, code: bool = True, limits: LoopLimits | None = None, sampling: Sampling | None = None):
    sandbox = FakeSandbox()
    engine = Engine(ScriptedBackend(), sandbox, limits)
    conversation = Conversation.from_question(question, code_execution=code)
    if sampling:
        conversation = Conversation(conversation.messages, conversation.code_execution, sampling)

    async def collect() -> list[Event]:
        return [event async for event in engine.run(conversation)]

    return asyncio.run(collect()), sandbox


def kinds(events: list[Event]) -> list[str]:
    names = [type(event).__name__ for event in events]
    return [n for i, n in enumerate(names) if not (n == "TextDelta" and i and names[i - 1] == "TextDelta")]


def test_each_block_runs_in_order_in_one_session() -> None:
    events, sandbox = run("```python\na = 1\n```\n```python\nprint(a)\n```")
    assert kinds(events) == ["TextDelta", "CodeBlock", "CodeResult"] * 2 + ["TextDelta", "Finished"]
    assert sandbox.ran == ["a = 1\n", "print(a)\n"]
    assert (sandbox.opened, sandbox.closed) == (1, 1)
    final = "".join(
        e.text
        for e in events[events.index(next(e for e in events if isinstance(e, CodeResult))) :]
        if isinstance(e, TextDelta)
    )
    assert "ran 2" in final


def test_without_the_tool_nothing_runs_and_no_session_opens() -> None:
    events, sandbox = run("```python\nprint(1)\n```", code=False)
    assert kinds(events) == ["TextDelta", "Finished"]
    assert (sandbox.opened, sandbox.ran) == (0, [])


def test_usage_counts_prompt_generation_and_tool_output() -> None:
    events, _ = run("```python\nprint(1)\n```")
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.finish_reason == "STOP"
    usage = finished.usage
    assert usage.prompt_tokens > 0 and usage.candidates_tokens > 0 and usage.tool_use_prompt_tokens > 0


def test_block_limit_stops_running_code() -> None:
    blocks = "".join(f"```python\nx = {i}\n```\n" for i in range(5))
    events, sandbox = run(blocks, limits=LoopLimits(max_code_blocks=2))
    assert len(sandbox.ran) == 2
    assert isinstance(events[-1], Finished)


class StubbornBackend(ScriptedBackend):
    """Writes a new block every turn, however many have run."""

    def reply(self, chat, variant=0):
        turns = sum(message.role == "tool" for message in chat.messages)
        return f"Once more.\n```python\nprint({turns})\n```\n"


def test_a_model_that_still_wants_code_past_the_block_limit_finishes_with_too_many_tool_calls() -> None:
    sandbox = FakeSandbox()
    engine = Engine(StubbornBackend(), sandbox, LoopLimits(max_code_blocks=2))

    async def collect() -> list[Event]:
        return [e async for e in engine.run(Conversation.from_question("go"))]

    events = asyncio.run(collect())
    assert sandbox.ran == ["print(0)\n", "print(1)\n"]
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.finish_reason == "TOO_MANY_TOOL_CALLS"
    assert finished.message == (
        "The loop ran its limit of 2 code blocks, so the code in the model's last reply was not run."
    )


def test_an_answer_in_words_past_the_block_limit_is_a_plain_stop() -> None:
    blocks = "".join(f"```python\nx = {i}\n```\n" for i in range(5))
    events, _ = run(blocks, limits=LoopLimits(max_code_blocks=2))
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "STOP"
    assert events[-1].message is None


def test_each_block_and_its_result_share_an_id_of_their_own() -> None:
    events, _ = run("```python\na = 1\n```\n```python\nprint(a)\n```")
    blocks = [e for e in events if isinstance(e, CodeBlock)]
    results = [e for e in events if isinstance(e, CodeResult)]
    assert [b.id for b in blocks] == [r.id for r in results]
    assert all(blocks[0].id and blocks[1].id) and blocks[0].id != blocks[1].id


def test_log_probabilities_cover_every_generated_token_when_asked() -> None:
    events, _ = run("one two", code=False, sampling=Sampling(logprobs=1))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.logprobs is not None
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "".join(token.chosen.token for token in finished.logprobs) == text
    assert all(token.top == (token.chosen,) for token in finished.logprobs)
    unasked, _ = run("one two", code=False)
    assert isinstance(unasked[-1], Finished) and unasked[-1].logprobs is None


def test_consecutive_failures_stop_the_loop() -> None:
    blocks = "".join(f"```python\nfail({i})\n```\n" for i in range(4))
    events, sandbox = run(blocks, limits=LoopLimits(max_consecutive_failures=2))
    assert len(sandbox.ran) == 2
    results = [e.execution.outcome for e in events if isinstance(e, CodeResult)]
    assert results == [Outcome.OUTCOME_FAILED] * 2


def test_max_tokens_ends_with_max_tokens() -> None:
    events, _ = run("tell me a long story " * 20, code=False, sampling=Sampling(max_tokens=5))
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "MAX_TOKENS"
    assert events[-1].usage.candidates_tokens <= 5
    assert events[-1].message == "The response reached its limit of 5 output tokens (maxOutputTokens)."


def test_closing_the_loop_early_closes_the_session() -> None:
    sandbox = FakeSandbox()
    engine = Engine(ScriptedBackend(), sandbox)
    conversation = Conversation.from_question("```python\nprint(1)\n```\n```python\nprint(2)\n```")

    async def first_code_block() -> Event:
        async with contextlib.aclosing(engine.run(conversation)) as events:
            async for event in events:
                if isinstance(event, CodeBlock):
                    return event
        raise AssertionError("no code block")

    assert isinstance(asyncio.run(first_code_block()), CodeBlock)
    assert (sandbox.opened, sandbox.closed) == (1, 1)


class RepeatingBackend(ScriptedBackend):
    """Writes the same block again and again, as small models sometimes do."""

    def reply(self, chat, variant=0):
        return "```python\nprint(1)\n```\n"


def test_a_repeated_block_ends_the_loop() -> None:
    sandbox = FakeSandbox()
    engine = Engine(RepeatingBackend(), sandbox)

    async def collect() -> list[Event]:
        return [e async for e in engine.run(Conversation.from_question("go"))]

    events = asyncio.run(collect())
    assert sandbox.ran == ["print(1)\n"]
    # asked to answer instead, it may no longer run code: its block stays text
    assert kinds(events) == ["CodeBlock", "CodeResult", "TextDelta", "Finished"]


def test_stop_sequences_cut_the_answer() -> None:
    events, _ = run("one two three four", code=False, sampling=Sampling(stop=("three",)))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "You said: one two "
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "STOP"


class StagingSession(FakeSession):
    """A session whose first attempt to stage a file fails, as when an earlier block left a FIFO."""

    def __init__(self, sandbox: FakeSandbox) -> None:
        super().__init__(sandbox)
        self.staged: list[str] = []
        self.refusals = 1

    async def put_file(self, name: str, data: bytes) -> None:
        if self.refusals:
            self.refusals -= 1
            raise StagingFailed(f"cannot stage {name!r}: the interpreter did not take it within 10 s")
        self.staged.append(name)


def test_a_file_that_cannot_be_staged_fails_the_block_and_is_staged_again_for_the_next() -> None:
    sandbox = FakeSandbox()
    session = StagingSession(sandbox)
    question = Conversation.from_question("```python\nprint(1)\n```\n```python\nprint(2)\n```")
    conversation = Conversation(question.messages, True, files=(NamedFile("in.csv", "text/csv", b"a\n"),))

    async def collect() -> list[Event]:
        return [event async for event in Engine(ScriptedBackend(), sandbox).run(conversation, session)]

    results = [e.execution for e in asyncio.run(collect()) if isinstance(e, CodeResult)]
    assert [r.outcome for r in results] == [Outcome.OUTCOME_FAILED, Outcome.OUTCOME_OK]
    assert results[0].output == (
        "The block was not run: cannot stage 'in.csv': the interpreter did not take it within 10 s.\n"
    )
    assert sandbox.ran == ["print(2)\n"]
    assert session.staged == ["in.csv"]


class PrefillingBackend(ScriptedBackend):
    """A model that continues the reply it is given: code first, then an answer off by a digit."""

    prefills = True

    def __init__(self) -> None:
        self.chats: list = []

    def reply(self, chat, variant=0):
        self.chats.append(chat)
        if not any(m.role == "tool" for m in chat.messages):
            return "print(factorial(17))\n```\n" if chat.prefix else "17! is about 3.5e14.\n"
        return "So 17! = 35,568,742,809,600."


class PrintingSession(FakeSession):
    async def run(self, code: str, timeout_s: float | None = None, on_output: object = None) -> Execution:
        self.sandbox.ran.append(code)
        return Execution(Outcome.OUTCOME_OK, "355687428096000\n")


def run_prefilling(question: str, policy: AnswerPolicy | None = None):
    sandbox = FakeSandbox()
    backend = PrefillingBackend()
    engine = Engine(backend, sandbox, policy=policy)

    async def collect() -> list[Event]:
        conversation = Conversation.from_question(question)
        return [e async for e in engine.run(conversation, PrintingSession(sandbox))]

    return asyncio.run(collect()), backend, sandbox


def test_a_question_that_needs_computing_gets_a_program_and_a_grounded_answer() -> None:
    events, backend, sandbox = run_prefilling("What is 17 factorial?")
    assert [chat.prefix for chat in backend.chats] == ["```python\n", ""]
    assert sandbox.ran == ["print(factorial(17))\n"]
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert answer == "So 17! = 355,687,428,096,000."
    assert backend.chats[1].messages[-2].content == "```python\nprint(factorial(17))\n```\n"


def test_each_lever_can_be_turned_off() -> None:
    events, backend, sandbox = run_prefilling(
        "What is 17 factorial?", AnswerPolicy(compute_first=False, ground_numbers=False)
    )
    assert [chat.prefix for chat in backend.chats] == [""]
    assert sandbox.ran == []
    events, backend, _ = run_prefilling("What is 17 factorial?", AnswerPolicy(ground_numbers=False))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "So 17! = 35,568,742,809,600."


def test_a_greeting_is_answered_in_words() -> None:
    _, backend, sandbox = run_prefilling("Hello there!")
    assert [chat.prefix for chat in backend.chats] == [""]
    assert sandbox.ran == []


class RecitingBackend(PrefillingBackend):
    """Writes its guess into a print call, then, told so, a program that computes."""

    def __init__(self, guesses: int = 1) -> None:
        super().__init__()
        self.guesses = guesses

    def reply(self, chat, variant=0):
        self.chats.append(chat)
        if any(m.role == "tool" for m in chat.messages):
            return "So 17! = 355687428096000."
        written = sum(m.role == "assistant" for m in chat.messages)
        fence = "" if chat.prefix else "```python\n"  # the loop started the block, or it did not
        return fence + ('print("5040")' if written < self.guesses else "print(factorial(17))") + "\n```\n"


def run_reciting(
    guesses: int, policy: AnswerPolicy | None = None
) -> tuple[list[Event], RecitingBackend, FakeSandbox]:
    sandbox = FakeSandbox()
    backend = RecitingBackend(guesses)
    engine = Engine(backend, sandbox, policy=policy)

    async def collect() -> list[Event]:
        conversation = Conversation.from_question("What is 17 factorial?")
        return [e async for e in engine.run(conversation, PrintingSession(sandbox))]

    return asyncio.run(collect()), backend, sandbox


def test_a_program_that_only_prints_a_literal_is_sent_back_once_for_one_that_computes() -> None:
    events, backend, sandbox = run_reciting(guesses=1)
    assert sandbox.ran == ["print(factorial(17))\n"]  # the recited guess never ran
    assert [e.code for e in events if isinstance(e, CodeBlock)] == ["print(factorial(17))\n"]
    assert [chat.prefix for chat in backend.chats] == ["```python\n", "```python\n", ""]
    told = backend.chats[1].messages
    assert told[-2].content == '```python\nprint("5040")\n```\n'
    assert told[-1].content == prompts.COMPUTE_IT


def test_a_model_that_recites_again_has_its_program_run() -> None:
    _, backend, sandbox = run_reciting(guesses=2)
    assert sandbox.ran == ['print("5040")\n']  # asked once, not twice: the second one runs
    assert len(backend.chats) == 3


def test_without_compute_first_a_recited_program_runs() -> None:
    _, _, sandbox = run_reciting(guesses=1, policy=AnswerPolicy(compute_first=False))
    assert sandbox.ran == ['print("5040")\n']


class VotingBackend(PrefillingBackend):
    """Writes three programs at once: the greedy one computes the wrong thing, two others agree."""

    def __init__(self, programs: list[str]) -> None:
        super().__init__()
        self.programs = programs
        self.asked: list[tuple[int, float]] = []

    async def sample_many(self, chat, n, temperature, until):
        self.asked.append((n, temperature))
        texts = [f"{code}```\n" for code in self.programs[:n]]
        assert all(until(text) for text in texts)
        return [Sample(text, "STOP", 10) for text in texts]

    def reply(self, chat, variant=0):
        self.chats.append(chat)
        return "The answer is 5117."


class OutputSession(FakeSession):
    """Prints what the code says it prints: `print(N)` -> N; `fail` fails."""

    async def run(self, code: str, timeout_s: float | None = None, on_output: object = None) -> Execution:
        self.sandbox.ran.append(code)
        if "fail" in code:
            return Execution(Outcome.OUTCOME_FAILED, "Traceback\n")
        return Execution(Outcome.OUTCOME_OK, code.removeprefix("print(").split(")")[0] + "\n")


class OutputSandbox(FakeSandbox):
    async def open_session(self) -> OutputSession:
        self.opened += 1
        return OutputSession(self)


def run_vote(programs: list[str], votes: int = 3):
    sandbox = OutputSandbox()
    backend = VotingBackend(programs)
    engine = Engine(backend, sandbox, policy=AnswerPolicy(votes=votes))

    async def collect() -> list[Event]:
        return [e async for e in engine.run(Conversation.from_question("Sum the first 50 primes."))]

    return asyncio.run(collect()), backend, sandbox


def test_the_answer_most_programs_print_wins_and_only_its_program_is_shown() -> None:
    events, backend, sandbox = run_vote(["print(328)\n", "print(5117)\n", "print(5117.0)\n"])
    assert backend.asked == [(3, 0.7)]
    assert sorted(sandbox.ran) == ["print(328)\n", "print(5117)\n", "print(5117.0)\n"]
    blocks = [e.code for e in events if isinstance(e, CodeBlock)]
    results = [e.execution.output for e in events if isinstance(e, CodeResult)]
    assert (blocks, results) == (["print(5117)\n"], ["5117\n"])
    assert (sandbox.opened, sandbox.closed) == (3, 3)  # the losers' at once, the winner's at the end
    assert backend.chats[-1].messages[-2].content == "```python\nprint(5117)\n```\n"


def test_without_agreement_the_first_program_stands_and_failures_do_not_vote() -> None:
    events, _, _ = run_vote(["print(328)\n", "fail\n", "print(1)\n"])
    assert [e.code for e in events if isinstance(e, CodeBlock)] == ["print(328)\n"]
    events, _, _ = run_vote(["fail\n", "print(7)\n", "fail()\n"])
    assert [e.code for e in events if isinstance(e, CodeBlock)] == ["print(7)\n"]


def test_identical_programs_run_once() -> None:
    _, _, sandbox = run_vote(["print(2)\n", "print(2)\n", "print(3)\n"])
    assert sorted(sandbox.ran) == ["print(2)\n", "print(3)\n"]
    assert (sandbox.opened, sandbox.closed) == (2, 2)


class TickingSession(FakeSession):
    """Prints two lines while its block runs, then waits until released (forever, if never)."""

    def __init__(self, sandbox: FakeSandbox, release: asyncio.Event) -> None:
        super().__init__(sandbox)
        self.release = release
        self.cancelled = False

    async def run(self, code: str, timeout_s: float | None = None, on_output: object = None) -> Execution:
        try:
            for line in (b"one\n", b"two\n"):
                if callable(on_output):
                    on_output(line)
                await asyncio.sleep(0.1)
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return Execution(Outcome.OUTCOME_OK, "one\ntwo\n")


def live_events(live_output: bool) -> list[Event]:
    async def collect() -> list[Event]:
        release = asyncio.Event()
        session = TickingSession(FakeSandbox(), release)
        engine = Engine(ScriptedBackend(), session.sandbox)
        conversation = Conversation.from_question("```python\nprint('one'); print('two')\n```")
        asyncio.get_running_loop().call_later(0.5, release.set)
        return [event async for event in engine.run(conversation, session, live_output=live_output)]

    return asyncio.run(collect())


def test_live_output_comes_as_pieces_of_the_running_block_before_its_result() -> None:
    events = live_events(live_output=True)
    pieces_then_result = ["OutputPiece", "OutputPiece", "CodeResult"]
    assert kinds(events) == ["TextDelta", "CodeBlock", *pieces_then_result, "TextDelta", "Finished"]
    block = next(e for e in events if isinstance(e, CodeBlock))
    pieces = [e for e in events if isinstance(e, OutputPiece)]
    assert [(p.text, p.id) for p in pieces] == [("one\n", block.id), ("two\n", block.id)]


def test_without_live_output_there_are_no_pieces() -> None:
    events = live_events(live_output=False)
    assert kinds(events) == ["TextDelta", "CodeBlock", "CodeResult", "TextDelta", "Finished"]


def test_closing_the_run_mid_block_cancels_the_block() -> None:
    async def scenario() -> TickingSession:
        session = TickingSession(FakeSandbox(), asyncio.Event())  # never released
        engine = Engine(ScriptedBackend(), session.sandbox)
        conversation = Conversation.from_question("```python\nprint('one')\n```")
        async with contextlib.aclosing(engine.run(conversation, session, live_output=True)) as events:
            async for event in events:
                if isinstance(event, OutputPiece):
                    break
        return session

    assert asyncio.run(scenario()).cancelled


class TypoBackend(ScriptedBackend):
    """Copies the user's word with a letter missing into its program, then answers."""

    def reply(self, chat, variant=0):
        if any(message.role == "tool" for message in chat.messages):
            return "Done."
        return '```python\nprint("hipopotamus".upper())\n```\n'


def typo_run(policy: AnswerPolicy) -> tuple[list[Event], FakeSandbox]:
    sandbox = FakeSandbox()
    engine = Engine(TypoBackend(), sandbox, policy=policy)

    async def collect() -> list[Event]:
        return [e async for e in engine.run(Conversation.from_question('Uppercase "hippopotamus".'))]

    return asyncio.run(collect()), sandbox


def test_a_quoted_string_copied_with_a_typo_runs_as_the_user_wrote_it() -> None:
    events, sandbox = typo_run(AnswerPolicy())
    assert sandbox.ran == ['print("hippopotamus".upper())\n']
    shown = next(e for e in events if isinstance(e, CodeBlock))
    assert shown.code == sandbox.ran[0]  # the client sees the program that ran


def test_quotes_are_left_alone_when_the_policy_says_so() -> None:
    _, sandbox = typo_run(AnswerPolicy(restore_quotes=False))
    assert sandbox.ran == ['print("hipopotamus".upper())\n']
