"""How much of a prompt to take from the KV cache so that the output does not depend on what it held.

llama.cpp evaluates a prompt in chunks of n_batch tokens, and a token's logits depend on the chunk
it was computed in: matrix products over a different number of rows take other kernel paths (and
round activations differently), so the same prompt evaluated from an empty cache or after a cached
prefix gives logits that differ in their last bits, and greedy decoding flips where two tokens are
nearly tied (the 50-primes question answered 5117 as a first request and 328 after others). Reusing
the cache only up to a chunk boundary evaluates every prompt token in the chunk it would have had
from an empty cache, so the logits, and the greedy output, are bit-identical whatever came before.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def held_prefix(held: npt.NDArray[np.intc], prompt: Sequence[int]) -> int:
    """How many leading tokens of the prompt the cache holds."""
    size = min(len(held), len(prompt))
    differ = np.flatnonzero(held[:size] != np.asarray(prompt[:size], dtype=held.dtype))
    return int(differ[0]) if len(differ) else size


def reusable_prefix(held: int, prompt_tokens: int, chunk: int) -> int:
    """The cached tokens to keep: the held prefix cut back to a chunk boundary.

    At least one prompt token is always evaluated: its logits are what the first token is sampled
    from, and they must come from the chunk an empty cache would have computed them in."""
    if prompt_tokens <= 0:
        return 0
    return min(held, prompt_tokens - 1) // chunk * chunk
