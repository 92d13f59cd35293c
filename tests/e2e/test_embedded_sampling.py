"""The embedded 0.5B model in-process: several samples of one chat, the first as stream() writes it,
the others decoded together in sequences of the same context."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from codeloop.backends.base import Chat, Message, Sample, Sampling
from codeloop.backends.catalog import QWEN_05B
from codeloop.backends.embedded import EmbeddedBackend
from codeloop.errors import InvalidRequest
from codeloop.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MODEL_FILE = Settings().cache_dir / "models" / QWEN_05B.weights.file_name
SHORT = Chat(
    (Message("user", "Write Python code that prints the sum of the first 50 primes."),),
    sampling=Sampling(temperature=0, seed=0, max_tokens=24),
)


def never(text: str) -> bool:
    return False


@pytest.fixture(scope="module")
def backend() -> Iterator[EmbeddedBackend]:
    if not MODEL_FILE.exists():
        pytest.fail(f"{MODEL_FILE} is missing: `make test` pulls it")
    backend = EmbeddedBackend(QWEN_05B, MODEL_FILE, threads=2)
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


def other_sequences_hold_cells(backend: EmbeddedBackend) -> bool:
    from llama_cpp import llama_cpp as lib

    memory = lib.llama_get_memory(backend.llm.ctx)
    return any(lib.llama_memory_seq_pos_max(memory, seq) >= 0 for seq in backend.sample_sequences)


def test_the_first_sample_is_what_stream_writes(backend: EmbeddedBackend) -> None:
    written = greedy(backend, SHORT)
    samples = sample_many(backend, SHORT, 3, 0.8, never)
    assert len(samples) == 3
    assert samples[0].text == written
    assert all(sample.tokens == 24 and sample.finish_reason == "MAX_TOKENS" for sample in samples)
    assert len({sample.text for sample in samples}) > 1  # sampled, not all greedy
    assert not other_sequences_hold_cells(backend)
    # The cache and the Llama's record of it are as stream() leaves them: the same greedy text again.
    assert greedy(backend, SHORT) == written


def test_samples_are_reproducible_with_the_same_seed(backend: EmbeddedBackend) -> None:
    first = sample_many(backend, SHORT, 3, 0.8, never)
    greedy(
        backend, Chat((Message("user", "Write a haiku."),), sampling=SHORT.sampling)
    )  # other cache contents
    assert sample_many(backend, SHORT, 3, 0.8, never) == first
    reseeded = Chat(SHORT.messages, sampling=Sampling(temperature=0, seed=1, max_tokens=24))
    other = sample_many(backend, reseeded, 3, 0.8, never)
    assert other[0] == first[0]  # greedy: the seed changes nothing
    assert other[1:] != first[1:]


def test_each_sample_stops_when_until_says(backend: EmbeddedBackend) -> None:
    def five_words(text: str) -> bool:
        return len(text.split()) >= 5

    samples = sample_many(backend, SHORT, 4, 1.0, five_words)
    for sample in samples:
        assert sample.finish_reason == "STOP" and sample.tokens < 24
        assert len(sample.text.split()) in (5, 6)  # the token that made it hold may start a sixth word
    assert len({sample.text for sample in samples}) > 1
    assert greedy(backend, SHORT).startswith(samples[0].text)


def test_abandoned_sampling_frees_its_sequences(backend: EmbeddedBackend) -> None:
    written = greedy(backend, SHORT)
    long = Chat(SHORT.messages, sampling=Sampling(temperature=0, seed=0, max_tokens=2000))

    async def abandon() -> None:
        task = asyncio.create_task(backend.sample_many(long, 4, 0.8, never))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(abandon())
    assert not other_sequences_hold_cells(backend)
    assert greedy(backend, SHORT) == written


@pytest.mark.parametrize(("n", "temperature"), [(0, 0.8), (9, 0.8), (2, -1.0), (2, float("nan"))])
def test_refuses_what_it_cannot_sample(backend: EmbeddedBackend, n: int, temperature: float) -> None:
    with pytest.raises(InvalidRequest):
        sample_many(backend, SHORT, n, temperature)
