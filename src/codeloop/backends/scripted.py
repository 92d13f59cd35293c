"""A deterministic model for tests and for trying clients: it runs the code blocks you send it.

With code execution on, every ```python block of the last user message is written out, in order,
as if the model had written it, each one run before the next; so is every <tool_call> block after
them, each waiting for its result; then a short final answer quotes the last result. Without
blocks, or without the tool, it answers in text only.

Asked for log-probabilities, it reports each word as a token it was certain of (log-probability 0),
which a deterministic model is.

Asked for several samples, sample i writes the block i places after the one stream() would write
(wrapping around the message's blocks), so a caller's test can script programs that disagree.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Callable

from codeloop.backends.base import (
    Chat,
    Chunk,
    FinishReason,
    Message,
    ModelInfo,
    Sample,
    estimate_tokens,
)
from codeloop.errors import InvalidRequest
from codeloop.fences import call_block, fence, find_calls, find_code_blocks
from codeloop.logprobs import Candidate, TokenLogprob

INFO = ModelInfo(
    name="scripted",
    display_name="Scripted",
    description="Deterministic model: runs the ```python blocks of the last user message, in order.",
    input_token_limit=1_000_000,
    output_token_limit=65_536,
)

_WORDS = re.compile(r"\s*\S+\s*|\s+")


class ScriptedBackend:
    info = INFO
    prefills = False  # it writes whole scripted replies

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def aclose(self) -> None:
        pass

    async def stream(self, chat: Chat) -> AsyncGenerator[Chunk, None]:
        words, finish = self._within_budget(self.reply(chat), chat.sampling.max_tokens)
        for word in words:
            yield Chunk(word, logprobs=_certain(word, chat.sampling.logprobs))
            await asyncio.sleep(0)  # a real model yields between tokens; so do we
        yield Chunk("", finish_reason=finish)

    async def sample_many(
        self, chat: Chat, n: int, temperature: float, until: Callable[[str], bool]
    ) -> list[Sample]:
        """See ParallelSampling; the temperature changes nothing here."""
        if n < 1:
            raise InvalidRequest(f"Ask for at least one sample, not {n}.")
        return [self._sample(self.reply(chat, i), chat.sampling.max_tokens, until) for i in range(n)]

    def reply(self, chat: Chat, variant: int = 0) -> str:
        """The whole next assistant message; a variant writes a later block of the message."""
        last_user = _last_index(chat.messages, "user")
        question = chat.messages[last_user].content if last_user is not None else ""
        blocks = find_code_blocks(question)
        calls = find_calls(question)
        results = [m.content for m in chat.messages[(last_user or 0) + 1 :] if m.role == "tool"]
        if chat.code_execution and len(results) < len(blocks):
            lead = "Running the code." if not results else "Running the next block."
            return f"{lead}\n{fence(blocks[(len(results) + variant) % len(blocks)])}"
        done = len(results) - (len(blocks) if chat.code_execution else 0)
        if 0 <= done < len(calls):
            return f"Calling a function.\n{call_block(calls[done])}"
        if results:
            return f"I ran {len(results)} code block(s). The last one reported:\n{results[-1]}\n"
        if blocks:
            return "Code execution is not enabled for this request, so I did not run the code.\n"
        return f"You said: {question}\n" if question else "Hello! Send me a ```python block to run.\n"

    def _sample(self, reply: str, budget: int | None, until: Callable[[str], bool]) -> Sample:
        words, finish = self._within_budget(reply, budget)
        text = ""
        for word in words:
            text += word
            if until(text):
                finish = "STOP"
                break
        return Sample(text, finish, self.count_tokens(text))

    def _within_budget(self, reply: str, budget: int | None) -> tuple[list[str], FinishReason]:
        """The reply's words that fit the token budget, and why the reply ends there."""
        words: list[str] = []
        used = 0
        for word in _WORDS.findall(reply):
            used += self.count_tokens(word)
            if budget is not None and used > budget:
                return words, "MAX_TOKENS"
            words.append(word)
        return words, "STOP"


def _certain(word: str, top: int | None) -> tuple[TokenLogprob, ...]:
    if top is None:
        return ()
    chosen = Candidate(word, 0.0)
    return (TokenLogprob(chosen, (chosen,) if top else ()),)


def _last_index(messages: tuple[Message, ...], role: str) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == role:
            return index
    return None
