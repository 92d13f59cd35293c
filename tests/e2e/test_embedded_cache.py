"""The embedded 0.5B model in-process: a greedy request writes the same tokens, from bit-identical
logits, whatever its KV cache held before it."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from codeloop.backends.base import Chat, Message, Sampling
from codeloop.backends.catalog import QWEN_05B
from codeloop.backends.embedded import EmbeddedBackend
from codeloop.loop.engine import Conversation
from codeloop.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MODEL_FILE = Settings().cache_dir / "models" / QWEN_05B.weights.file_name
PRIMES = (
    "What is the sum of the first 50 prime numbers? Generate and run code for the calculation, "
    "and make sure you get all 50."
)


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


BEFORE = {
    "unrelated": Chat(
        (Message("user", "Write a haiku about the sea."),), sampling=Sampling(temperature=0, max_tokens=8)
    ),
    "shared system prompt": loop_chat("What is 17 factorial?", 8),  # most of the prompt is held
    "same request": loop_chat(PRIMES, 24),  # all of it is held
}


def test_greedy_output_does_not_depend_on_the_cache() -> None:
    if not MODEL_FILE.exists():
        pytest.fail(f"{MODEL_FILE} is missing: `make test` pulls it")
    backend = EmbeddedBackend(QWEN_05B, MODEL_FILE, threads=2)
    try:
        request = loop_chat(PRIMES, 24)
        text, logits = greedy(backend, request)  # the first request: an empty cache
        for name, before in BEFORE.items():
            greedy(backend, before)
            again, logits_again = greedy(backend, request)
            assert again == text, f"after the {name}"
            assert np.array_equal(logits_again, logits), f"after the {name}: logits differ in their last bits"
    finally:
        asyncio.run(backend.aclose())
