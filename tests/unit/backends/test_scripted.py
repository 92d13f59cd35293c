from __future__ import annotations

import asyncio

from codeloop.backends.base import Chat, Message, ParallelSampling, Sample, Sampling
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


def samples(chat: Chat, n: int, until: object = None) -> list[Sample]:
    check = until if callable(until) else (lambda text: False)
    return asyncio.run(ScriptedBackend().sample_many(chat, n, 0.8, check))


def test_samples_write_the_blocks_after_the_next_one_in_turn() -> None:
    blocks = "".join(f"```python\nprint({i})\n```\n" for i in range(3))
    first_ran = (Message("user", blocks), Message("assistant", "..."), Message("tool", "Output:\n0\n"))
    written = [sample.text for sample in samples(Chat(first_ran, code_execution=True), 4)]
    assert written == [
        "Running the next block.\n```python\nprint(1)\n```\n",
        "Running the next block.\n```python\nprint(2)\n```\n",
        "Running the next block.\n```python\nprint(0)\n```\n",
        "Running the next block.\n```python\nprint(1)\n```\n",
    ]
    assert written[0] == reply(Chat(first_ran, code_execution=True))[0]


def test_samples_stop_where_until_says_or_at_the_budget() -> None:
    chat = Chat((Message("user", "```python\nprint(1)\n```"),), True)
    (sample,) = samples(chat, 1, lambda text: "print" in text)
    text = "Running the code.\n```python\nprint(1)\n"  # the scripted model writes whole words
    assert sample == Sample(text, "STOP", ScriptedBackend().count_tokens(text))
    (sample,) = samples(Chat(chat.messages, True, Sampling(max_tokens=3)), 1)
    assert sample == Sample("Running the ", "MAX_TOKENS", 2)  # "code." would cost two more
    (sample,) = samples(chat, 1)
    assert sample.finish_reason == "STOP" and sample.text.endswith("```\n")


def test_scripted_and_only_local_backends_sample_in_parallel() -> None:
    from codeloop.backends.openai_compat import OpenAICompatBackend

    assert isinstance(ScriptedBackend(), ParallelSampling)
    assert not isinstance(OpenAICompatBackend("m", "http://127.0.0.1:9"), ParallelSampling)
