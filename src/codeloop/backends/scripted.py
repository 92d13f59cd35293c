"""A deterministic model for tests and for trying clients: it runs the code blocks you send it.

With code execution on, every ```python block of the last user message is written out, in order,
as if the model had written it, each one run before the next; so is every <tool_call> block after
them, each waiting for its result; then a short final answer quotes the last result. Without
blocks, or without the tool, it answers in text only.

Asked for log-probabilities, it reports each word as a token it was certain of (log-probability 0),
which a deterministic model is.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator

from codeloop.backends.base import Chat, Chunk, Message, ModelInfo, estimate_tokens
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
        budget = chat.sampling.max_tokens
        used = 0
        for word in _WORDS.findall(self.reply(chat)):
            cost = self.count_tokens(word)
            if budget is not None and used + cost > budget:
                yield Chunk("", finish_reason="MAX_TOKENS")
                return
            used += cost
            yield Chunk(word, logprobs=_certain(word, chat.sampling.logprobs))
            await asyncio.sleep(0)  # a real model yields between tokens; so do we
        yield Chunk("", finish_reason="STOP")

    def reply(self, chat: Chat) -> str:
        """The whole next assistant message."""
        last_user = _last_index(chat.messages, "user")
        question = chat.messages[last_user].content if last_user is not None else ""
        blocks = find_code_blocks(question)
        calls = find_calls(question)
        results = [m.content for m in chat.messages[(last_user or 0) + 1 :] if m.role == "tool"]
        if chat.code_execution and len(results) < len(blocks):
            lead = "Running the code." if not results else "Running the next block."
            return f"{lead}\n{fence(blocks[len(results)])}"
        done = len(results) - (len(blocks) if chat.code_execution else 0)
        if 0 <= done < len(calls):
            return f"Calling a function.\n{call_block(calls[done])}"
        if results:
            return f"I ran {len(results)} code block(s). The last one reported:\n{results[-1]}\n"
        if blocks:
            return "Code execution is not enabled for this request, so I did not run the code.\n"
        return f"You said: {question}\n" if question else "Hello! Send me a ```python block to run.\n"


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
