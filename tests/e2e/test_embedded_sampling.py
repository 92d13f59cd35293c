"""The embedded 0.5B model in-process: several samples of one chat decoded together, and greedy output
that does not depend on what the KV cache held before."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from codeloop.backends.base import Chat, Message, Sample, Sampling
from codeloop.backends.catalog import QWEN_05B
from codeloop.backends.embedded import EmbeddedBackend
from codeloop.errors import InvalidRequest
from codeloop.loop.engine import Conversation
from codeloop.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MODEL_FILE = Settings().cache_dir / "models" / QWEN_05B.weights.file_name
PRIMES = (
    "What is the sum of the first 50 prime numbers? Generate and run code for the calculation, "
    "and make sure you get all 50."
)
SHORT = Chat(
    (Message("user", "Write Python code that prints the sum of the first 50 primes."),),
    sampling=Sampling(temperature=0, seed=0, max_tokens=32),
)


def never(text: str) -> bool:
    return False


def open_backend() -> EmbeddedBackend:
    if not MODEL_FILE.exists():
        pytest.fail(f"{MODEL_FILE} is missing: `make test` pulls it")
    return EmbeddedBackend(QWEN_05B, MODEL_FILE, threads=2)


@pytest.fixture(scope="module")
def backend() -> Iterator[EmbeddedBackend]:
    backend = open_backend()
    yield backend
    asyncio.run(backend.aclose())


def greedy(backend: EmbeddedBackend, chat: Chat) -> str:
    async def collect() -> str:
        return "".join([chunk.text async for chunk in backend.stream(chat)])

    return asyncio.run(collect())


def sample_many(
    backend: EmbeddedBackend, chat: Chat, n: int, temperature: float, until: Callable[[str], bool] = never
) -> list[Sample]:
    return asyncio.run(backend.sample_many(chat, n, temperature, until))


def loop_chat(question: str, max_tokens: int) -> Chat:
    """The loop's first prompt for a question: its system prompt, then the question."""
    messages = Conversation.from_question(question).messages
    return Chat(messages, True, Sampling(temperature=0, seed=0, max_tokens=max_tokens))


def other_sequences_hold_cells(backend: EmbeddedBackend) -> bool:
    from llama_cpp import llama_cpp as lib

    memory = lib.llama_get_memory(backend.llm.ctx)
    return any(lib.llama_memory_seq_pos_max(memory, seq) >= 0 for seq in range(1, backend.max_samples))


def test_the_first_sample_is_what_stream_writes(backend: EmbeddedBackend) -> None:
    written = greedy(backend, SHORT)
    samples = sample_many(backend, SHORT, 3, 0.8, never)
    assert len(samples) == 3
    assert samples[0].text == written
    assert all(sample.tokens == 32 and sample.finish_reason == "MAX_TOKENS" for sample in samples)
    assert len({sample.text for sample in samples}) == 3
    assert not other_sequences_hold_cells(backend)
    # The cache and the Llama's record of it are as stream() leaves them: the same greedy text again.
    assert greedy(backend, SHORT) == written


def test_samples_are_reproducible_with_the_same_seed(backend: EmbeddedBackend) -> None:
    first = sample_many(backend, SHORT, 3, 0.8, never)
    greedy(backend, loop_chat("Write a haiku about the sea.", 8))  # other cache contents between
    assert sample_many(backend, SHORT, 3, 0.8, never) == first
    reseeded = Chat(SHORT.messages, sampling=Sampling(temperature=0, seed=1, max_tokens=32))
    other = sample_many(backend, reseeded, 3, 0.8, never)
    assert other[0] == first[0]  # greedy: the seed changes nothing
    assert other[1:] != first[1:]


def test_each_sample_stops_when_until_says(backend: EmbeddedBackend) -> None:
    def first_line(text: str) -> bool:
        return "\n" in text

    chat = Chat(SHORT.messages, sampling=Sampling(temperature=0, seed=0, max_tokens=64))
    samples = sample_many(backend, chat, 4, 1.0, first_line)
    for sample in samples:
        assert sample.finish_reason == "STOP"
        # One token past the newline at most: until saw the text of the token that added it.
        assert sample.text.count("\n") >= 1 and "\n" not in sample.text.split("\n", 1)[1].rstrip("\n")
    assert len({sample.tokens for sample in samples}) > 1  # they ended on their own
    assert samples[0].text == (greedy(backend, chat)).split("\n", 1)[0] + "\n"


def test_abandoned_sampling_frees_its_sequences(backend: EmbeddedBackend) -> None:
    written = greedy(backend, SHORT)
    long = Chat(SHORT.messages, sampling=Sampling(temperature=0, seed=0, max_tokens=400))
    task = asyncio.create_task(backend.sample_many(long, 4, 0.8, never))
    await asyncio.sleep(3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not other_sequences_hold_cells(backend)
    assert greedy(backend, SHORT) == written


@pytest.mark.parametrize(("n", "temperature"), [(0, 0.8), (9, 0.8), (2, -1.0), (2, float("nan"))])
def test_refuses_what_it_cannot_sample(backend: EmbeddedBackend, n: int, temperature: float) -> None:
    with pytest.raises(InvalidRequest):
        sample_many(backend, SHORT, n, temperature)
