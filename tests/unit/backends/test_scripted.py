from __future__ import annotations

import asyncio

from codeloop.backends.base import Chat, Message, Sampling
from codeloop.backends.scripted import ScriptedBackend


def reply(chat: Chat) -> tuple[str, str | None]:
    async def collect() -> tuple[str, str | None]:
        chunks = [chunk async for chunk in ScriptedBackend().stream(chat)]
        return "".join(c.text for c in chunks), chunks[-1].finish_reason

    return asyncio.run(collect())


def test_writes_the_next_block_then_summarizes() -> None:
    user = Message("user", "```python\nprint(1)\n```")
    assert reply(Chat((user,), code_execution=True)) == (
        "Running the code.\n```python\nprint(1)\n```\n",
        "STOP",
    )
    text, _ = reply(Chat((user, Message("assistant", "..."), Message("tool", "Output:\n1\n")), True))
    assert text == "I ran 1 code block(s). The last one reported:\nOutput:\n1\n\n"


def test_text_only() -> None:
    assert reply(Chat((Message("user", "hello"),)))[0] == "You said: hello\n"
    assert "not enabled" in reply(Chat((Message("user", "```python\n1\n```"),)))[0]


def test_streams_word_by_word_and_honours_max_tokens() -> None:
    chat = Chat((Message("user", "one two three four five six"),), sampling=Sampling(max_tokens=4))
    text, finish = reply(chat)
    assert finish == "MAX_TOKENS"
    assert text == "You said: one "
