"""One of several continuations of a chat, as its tokens arrive: its text, and whether it has ended."""

from __future__ import annotations

import codecs
import hashlib
import secrets
from collections.abc import Callable

from codeloop.backends.base import FinishReason, Sample

# llama.cpp reads this seed as "pick one at random", so a derived seed never takes it.
RANDOM_SEED = 0xFFFFFFFF


class Continuation:
    """Text decoded token by token; it ends when `until` holds for it, at the end of the turn, or
    when `budget` tokens have been written."""

    def __init__(self, until: Callable[[str], bool], budget: int) -> None:
        self._until = until
        self._budget = budget
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""
        self.tokens = 0
        self.finish: FinishReason | None = None
        if budget <= 0:
            self._end("MAX_TOKENS")

    @property
    def live(self) -> bool:
        return self.finish is None

    def add(self, piece: bytes) -> None:
        """A written token's bytes (a character may span several tokens)."""
        assert self.live, "an ended continuation takes no more tokens"
        self.tokens += 1
        self.text += self._decoder.decode(piece)
        if self._until(self.text):
            self._end("STOP")
        elif self.tokens >= self._budget:
            self._end("MAX_TOKENS")

    def end_of_turn(self) -> None:
        """The model ended its turn (EOS or <|im_end|>): the token itself is not text."""
        self._end("STOP")

    def cut(self, budget: int) -> None:
        """Lower the budget, ending the continuation now if it is already spent."""
        self._budget = min(self._budget, budget)
        if self.live and self.tokens >= self._budget:
            self._end("MAX_TOKENS")

    def sample(self) -> Sample:
        assert self.finish is not None, "a continuation is a sample once it has ended"
        return Sample(self.text, self.finish, self.tokens)

    def _end(self, reason: FinishReason) -> None:
        self.text += self._decoder.decode(b"", final=True)
        self.finish = reason


def sample_seeds(seed: int | None, n: int) -> list[int]:
    """Seeds for samples 1..n-1 (sample 0 uses the request's own): distinct, and the same for the
    same request seed. Without one, the base is drawn at random and nothing is reproducible."""
    base = secrets.randbits(32) if seed is None else seed
    seeds = []
    for index in range(1, n):
        digest = hashlib.blake2b(f"{base}:{index}".encode(), digest_size=4).digest()
        derived = int.from_bytes(digest, "big")
        seeds.append(derived - 1 if derived == RANDOM_SEED else derived)
    return seeds
