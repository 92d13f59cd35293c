from __future__ import annotations

import numpy as np
import pytest

from codeloop.backends.prefix import held_prefix, reusable_prefix


def held(*tokens: int) -> np.ndarray:
    return np.array(tokens, dtype=np.intc)


def test_held_prefix_is_the_common_start() -> None:
    assert held_prefix(held(1, 2, 3, 4), [1, 2, 9, 4]) == 2
    assert held_prefix(held(1, 2), [1, 2, 3]) == 2
    assert held_prefix(held(1, 2, 3), [1, 2]) == 2
    assert held_prefix(held(), [1, 2]) == 0


@pytest.mark.parametrize(
    ("held_tokens", "prompt_tokens", "kept"),
    [
        (0, 300, 0),
        (299, 300, 0),  # a prompt inside the first chunk is evaluated whole, whatever the cache holds
        (700, 900, 512),  # cut back to the chunk boundary: [512, 900) is evaluated as from empty
        (1024, 1500, 1024),
        (1024, 1024, 512),  # all held: the last chunk is still evaluated, for the first token's logits
        (2000, 1500, 1024),
        (5, 0, 0),
    ],
)
def test_reuse_stops_at_the_last_chunk_boundary(held_tokens: int, prompt_tokens: int, kept: int) -> None:
    assert reusable_prefix(held_tokens, prompt_tokens, 512) == kept
