"""The embedded 0.5B model in-process: a greedy request writes the same tokens, from bit-identical
logits, whatever its KV cache held before it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import numpy as np
import pytest

from codeloop.backends.base import Chat, Message, Sampling
from codeloop.backends.catalog import QWEN_05B
from codeloop.backends.embedded import EmbeddedBackend, GenerationStats
from codeloop.fences import fence
from codeloop.loop import prompts
from codeloop.loop.engine import Conversation
from codeloop.runtime import open_runtime
from codeloop.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MODEL_FILE = Settings().cache_dir / "models" / QWEN_05B.weights.file_name
PRIMES = (
    "What is the sum of the first 50 prime numbers? Generate and run code for the calculation, "
    "and make sure you get all 50."
)


@pytest.fixture(autouse=True)
def model_file() -> None:
    if not MODEL_FILE.exists():
        pytest.fail(f"{MODEL_FILE} is missing: `make test` pulls it")


@contextlib.contextmanager
def recording(slots: int) -> Iterator[tuple[EmbeddedBackend, list[GenerationStats]]]:
    """A backend with `slots` slots, and the stats of each generation it runs, in order."""
    backend = EmbeddedBackend(QWEN_05B, MODEL_FILE, threads=2, slots=slots)
    seen: list[GenerationStats] = []
    backend.on_generation = seen.append
    try:
        yield backend, seen
    finally:
        asyncio.run(backend.aclose())


def system_tokens(backend: EmbeddedBackend) -> int:
    """The loop's system prompt, in tokens."""
    return len(backend.llm.tokenize(prompts.CODE_EXECUTION_PROMPT.encode(), add_bos=False))


def loop_chat(question: str, max_tokens: int) -> Chat:
    """The loop's first prompt for a question (its system prompt, then the question), greedy."""
    messages = Conversation.from_question(question).messages
    return Chat(messages, True, Sampling(temperature=0, seed=0, max_tokens=max_tokens))


def greedy(backend: EmbeddedBackend, chat: Chat) -> tuple[str, np.ndarray]:
    """The text, and the logits of the last token decoded: equal only if every step was."""
    from llama_cpp import llama_cpp as lib

    async def collect() -> str:
        return "".join([chunk.text async for chunk in backend.stream(chat)])

    text = asyncio.run(collect())
    row = lib.llama_get_logits_ith(backend.llm.ctx, -1)
    return text, np.ctypeslib.as_array(row, shape=(backend.llm.n_vocab(),)).copy()


FIRST = loop_chat(PRIMES, 24)
# The loop's second prompt: the first, the model's program, and what it printed.
PROGRAM = """\
def is_prime(n):
    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))

primes = [n for n in range(2, 300) if is_prime(n)][:50]
print(len(primes), primes)
print(sum(primes))
"""
SECOND = Chat(
    (
        *FIRST.messages,
        Message("assistant", fence(PROGRAM)),
        Message("tool", prompts.format_result("OUTCOME_OK", "50 [2, 3, 5, ..., 229]\n5117\n")),
    ),
    True,
    FIRST.sampling,
)
UNRELATED = Chat(
    (Message("user", "Write a haiku about the sea."),), sampling=Sampling(temperature=0, max_tokens=8)
)


@pytest.mark.parametrize(
    ("request_", "befores"),
    [
        (
            FIRST,
            {
                "an unrelated request": UNRELATED,
                "a request sharing the system prompt": loop_chat("What is 17 factorial?", 8),
                "the same request": FIRST,  # all of it is held
            },
        ),
        (SECOND, {"the previous loop iteration": FIRST, "the same request": SECOND}),
    ],
    ids=["first prompt", "second prompt"],
)
def test_greedy_output_does_not_depend_on_the_cache(request_: Chat, befores: dict[str, Chat]) -> None:
    backend = EmbeddedBackend(QWEN_05B, MODEL_FILE, threads=2)
    try:
        text, logits = greedy(backend, request_)  # the first request: an empty cache
        for name, before in befores.items():
            greedy(backend, before)
            again, logits_again = greedy(backend, request_)
            assert again == text, f"after {name}"
            assert np.array_equal(logits_again, logits), f"after {name}: logits differ in their last bits"
    finally:
        asyncio.run(backend.aclose())


def test_a_question_after_another_reuses_the_system_prompt_from_the_cache() -> None:
    # One slot: a new question takes an empty slot while there is one, and the slot of another
    # conversation (keeping the system prompt they share) only when there is none.
    with recording(slots=1) as (backend, seen):
        greedy(backend, loop_chat("What is 17 factorial?", 4))
        greedy(backend, FIRST)
        first, second = seen
        assert first.prefill_tokens == first.prompt_tokens  # an empty cache
        # Only the question is evaluated again: the system prompt's chunk comes from the cache.
        assert second.prefill_tokens < second.prompt_tokens - system_tokens(backend)


def test_an_empty_slot_seeded_with_another_slots_system_prompt_writes_what_it_would_alone() -> None:
    factorial = loop_chat("What is 17 factorial?", 12)
    with recording(slots=2) as (backend, seen):
        text, logits = greedy(backend, factorial)  # an empty cache
        backend.clear_cache()
        greedy(backend, FIRST)  # slot 0; the factorial question then takes the empty slot 1
        again, logits_again = greedy(backend, factorial)
        slots = backend._scheduler.table.slots
        assert all(slot.tokens for slot in slots)  # each question in a slot of its own
        seeded = seen[-1]
        # Its system prompt was copied from slot 0, not evaluated again.
        assert seeded.prefill_tokens < seeded.prompt_tokens - system_tokens(backend)
        assert again == text
        assert np.array_equal(logits_again, logits)


def test_the_first_question_finds_the_system_prompt_evaluated_at_start() -> None:
    async def first_question() -> tuple[GenerationStats, int]:
        async with open_runtime(Settings(model="qwen2.5-coder-0.5b", threads=2, preload="")) as runtime:
            backend = await runtime.backend("qwen2.5-coder-0.5b")
            assert isinstance(backend, EmbeddedBackend)
            seen: list[GenerationStats] = []
            backend.on_generation = seen.append
            async for _ in backend.stream(loop_chat("What is 17 factorial?", 2)):
                pass
            return seen[-1], system_tokens(backend)

    stats, system = asyncio.run(first_question())
    assert stats.prefill_tokens < stats.prompt_tokens - system
