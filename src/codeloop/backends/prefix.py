"""How a prompt is cut into llama_decode calls, and how much of it to take from the KV cache, so that
the output does not depend on what the cache held.

A token's logits depend on the llama_decode call it was computed in: matrix products over a
different number of rows take other kernel paths (and round activations differently), so the same
prompt evaluated from an empty cache or after a cached prefix gives logits that differ in their
last bits, and greedy decoding flips where two tokens are nearly tied (the 50-primes question
answered 5117 as a first request and 328 after others). So every prompt is evaluated in chunks
that depend on its tokens alone, and the cache is reused only up to the start of a chunk that it
already holds as computed in exactly that chunking.

The chunks start at 0, where each user and assistant message's text begins (just after its
`<|im_start|>user\\n` or `<|im_start|>assistant\\n`), and every n_batch tokens after any of those.
So the system prompt (with the first user opener) is a chunk of its own, computed the same way
whatever follows it, and every request with the same system prompt reuses it from the cache. A
loop iteration's prompt extends the previous one past the point where the model's reply begins, which
is a chunk start of the new prompt, so everything the previous prompt evaluated is reused; only the
reply (generated one token at a time, not in a chunk) and what follows it are evaluated again.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def held_prefix(held: npt.NDArray[np.intc], prompt: Sequence[int]) -> int:
    """How many leading tokens of the prompt the cache holds."""
    size = min(len(held), len(prompt))
    differ = np.flatnonzero(held[:size] != np.asarray(prompt[:size], dtype=held.dtype))
    return int(differ[0]) if len(differ) else size


def chunk_starts(prompt: Sequence[int], openers: Sequence[Sequence[int]], chunk: int) -> list[int]:
    """Where each llama_decode of the prompt starts; a chunk runs to the next start, or to the end.

    A chunk starts just after each of the `openers` token sequences. The starts up to a position
    depend only on the tokens before it, so a prompt that extends another shares its starts."""
    opened = sorted(
        {
            position
            for opener in openers
            if opener
            for position in range(len(opener), len(prompt))
            if list(prompt[position - len(opener) : position]) == list(opener)
        }
    )
    bounds = [0, *opened, len(prompt)]
    return [start for begin, end in itertools.pairwise(bounds) for start in range(begin, end, chunk)]


def reusable_prefix(starts: Sequence[int], usable: int, prompt_tokens: int) -> int:
    """The cached tokens to keep: up to the last chunk start within the `usable` cached tokens.

    `usable` counts leading tokens the cache holds as a previous prompt's chunks computed them.
    At least the last chunk is always evaluated: its logits are what the first token is sampled
    from, and they must come from the chunk an empty cache would compute."""
    limit = min(usable, prompt_tokens - 1)
    return max((start for start in starts if start <= limit), default=0)
