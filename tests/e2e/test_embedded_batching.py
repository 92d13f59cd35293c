"""The embedded 0.5B model in-process: several conversations decoded together, each keeping its slot."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from codeloop.backends.base import Chat, Message, Sampling
from codeloop.backends.catalog import QWEN_05B
from codeloop.backends.embedded import EmbeddedBackend, GenerationStats
from codeloop.loop import prompts
from codeloop.loop.engine import Conversation
from codeloop.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MODEL_FILE = Settings().cache_dir / "models" / QWEN_05B.weights.file_name
GREEDY = Sampling(temperature=0, seed=0, max_tokens=16)


def question(text: str, max_tokens: int = 16) -> Chat:
    messages = Conversation.from_question(text).messages
    return Chat(messages, True, Sampling(temperature=0, seed=0, max_tokens=max_tokens))


PRIMES = question("What is the sum of the first 50 prime numbers? Compute it.")
FACTORIAL = question("What is 17 factorial? Compute it.")


@pytest.fixture(scope="module")
def backend() -> Iterator[EmbeddedBackend]:
    if not MODEL_FILE.exists():
        pytest.fail(f"{MODEL_FILE} is missing: `make test` pulls it")
    backend = EmbeddedBackend(QWEN_05B, MODEL_FILE, threads=1, slots=2, max_samples=3)
    yield backend
    asyncio.run(backend.aclose())


async def collect(backend: EmbeddedBackend, chat: Chat) -> str:
    return "".join([chunk.text async for chunk in backend.stream(chat)])


def test_two_concurrent_streams_both_finish_as_each_would_alone(backend: EmbeddedBackend) -> None:
    alone = [asyncio.run(collect(backend, chat)) for chat in (PRIMES, FACTORIAL)]

    async def together() -> list[str]:
        return list(await asyncio.gather(collect(backend, PRIMES), collect(backend, FACTORIAL)))

    history: list[GenerationStats] = []
    backend.on_generation = history.append
    try:
        both = asyncio.run(together())
    finally:
        backend.on_generation = None
    assert all(both)
    assert both == alone
    assert len(history) == 2
    assert all(stats.generated_tokens == 16 for stats in history)


def test_the_next_turn_reuses_its_slot_with_another_conversation_in_between(backend: EmbeddedBackend) -> None:
    backend.clear_cache()
    history: list[GenerationStats] = []
    backend.on_generation = history.append
    try:
        reply = asyncio.run(collect(backend, PRIMES))
        asyncio.run(collect(backend, FACTORIAL))  # the other slot
        result = prompts.format_result("OUTCOME_OK", "5117\n")
        turn = Chat((*PRIMES.messages, Message("assistant", reply), Message("tool", result)), True, GREEDY)
        asyncio.run(collect(backend, turn))
    finally:
        backend.on_generation = None
    first, *_, second = history
    assert first.prefill_tokens == first.prompt_tokens  # a cold start
    # The second turn evaluates the reply and the result, not the prompt its slot already held.
    assert second.prefill_tokens < second.prompt_tokens - first.prompt_tokens + 16
    assert second.held_tokens >= first.prompt_tokens


def test_a_stream_closed_early_frees_its_slot(backend: EmbeddedBackend) -> None:
    long = Chat(PRIMES.messages, True, Sampling(temperature=0, seed=0, max_tokens=2000))

    async def leave_early() -> None:
        streams = [backend.stream(long), backend.stream(long)]  # both slots
        for stream in streams:
            await anext(stream)
        for stream in streams:
            await stream.aclose()
        # Were a slot still held, this would wait for the 2000 tokens of another stream.
        await asyncio.wait_for(collect(backend, FACTORIAL), timeout=120)

    asyncio.run(leave_early())
    assert not any(slot.busy for slot in backend._scheduler.table.slots)


def test_sample_many_beside_a_stream(backend: EmbeddedBackend) -> None:
    """The samples' first equals stream()'s greedy output; the stream beside them finishes too."""
    alone = asyncio.run(collect(backend, PRIMES))

    async def together() -> tuple[str, str]:
        samples, text = await asyncio.gather(
            backend.sample_many(PRIMES, 3, 0.8, lambda text: False), collect(backend, FACTORIAL)
        )
        return samples[0].text, text

    first, other = asyncio.run(together())
    assert other
    assert first == alone
