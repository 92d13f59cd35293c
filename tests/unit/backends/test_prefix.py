from __future__ import annotations

import numpy as np
import pytest

from codeloop.backends.prefix import chunk_starts, held_prefix, reusable_prefix

OPENER = [7, 8, 9]  # stands for <|im_start|>assistant\n
USER = [7, 6]  # stands for <|im_start|>user\n


def held(*tokens: int) -> np.ndarray:
    return np.array(tokens, dtype=np.intc)


def test_held_prefix_is_the_common_start() -> None:
    assert held_prefix(held(1, 2, 3, 4), [1, 2, 9, 4]) == 2
    assert held_prefix(held(1, 2), [1, 2, 3]) == 2
    assert held_prefix(held(1, 2, 3), [1, 2]) == 2
    assert held_prefix(held(), [1, 2]) == 0


def test_a_first_prompt_is_cut_every_chunk_from_the_start() -> None:
    prompt = [1] * 10 + OPENER  # system and user turns, then the opener the model continues
    assert chunk_starts(prompt, [OPENER], 4) == [0, 4, 8, 12]
    assert chunk_starts(prompt, [OPENER], 512) == [0]


def test_a_chunk_starts_where_each_assistant_message_begins() -> None:
    first = [1] * 5 + OPENER
    second = first + [2] * 6 + [3] * 2 + OPENER  # the reply, then the code result
    assert chunk_starts(second, [OPENER], 512) == [0, 8]
    assert chunk_starts(second, [OPENER], 4) == [0, 4, 8, 12, 16]
    # The starts before a position depend only on the tokens before it: an extension keeps them.
    assert chunk_starts(second, [OPENER], 4)[:2] == chunk_starts(first, [OPENER], 4)


def test_the_system_prompt_is_a_chunk_of_its_own_shared_by_every_question() -> None:
    system = [1] * 6 + USER
    first = system + [2] * 3 + OPENER
    other = system + [3] * 5 + OPENER
    assert chunk_starts(first, [OPENER, USER], 512) == [0, 8]
    assert chunk_starts(other, [OPENER, USER], 4) == [0, 4, 8, 12]
    # Another question after the same system prompt reuses the system chunk, not more.
    held_tokens = held_prefix(held(*first), other)
    assert held_tokens == 8
    assert reusable_prefix(chunk_starts(other, [OPENER, USER], 512), held_tokens, len(other)) == 8


def test_no_tokens_no_chunks() -> None:
    assert chunk_starts([], [OPENER], 4) == []
    assert reusable_prefix([], 5, 0) == 0


@pytest.mark.parametrize(
    ("usable", "prompt_tokens", "kept"),
    [
        (0, 30, 0),
        (7, 30, 0),  # inside the first chunk: it is evaluated whole, whatever the cache holds
        (12, 30, 10),  # back to the start of the chunk the cache holds only part of
        (25, 30, 20),
        (30, 30, 20),  # all held: the last chunk is still evaluated, for the first token's logits
        (99, 20, 10),
    ],
)
def test_reuse_stops_at_the_last_chunk_start_it_holds(usable: int, prompt_tokens: int, kept: int) -> None:
    assert reusable_prefix([0, 10, 20], usable, prompt_tokens) == kept
