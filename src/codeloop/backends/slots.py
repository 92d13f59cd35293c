"""Which sequence of the shared KV cache a request takes, so a conversation finds its own cells again.

A slot is a sequence id whose cells outlive the request that filled them: a loop iteration's prompt
extends the previous iteration's prompt and reply, so the next request of the same conversation
finds them in the slot it used and evaluates only what is new. No conversation id is needed: a
slot whose prompt the new prompt extends is the conversation's. A request that extends none takes
an empty slot, even where an idle slot shares its start (every question shares the system prompt
with every other): evicting that slot's conversation would cost it its whole prompt at its next
turn, a fresh slot only a copy of the system prompt's cells (below). With no slot empty, the idle
slot used least recently goes, keeping what it shares with the prompt.

A slot taken with less of the prompt than another slot holds (an empty slot, while others hold the
system prompt) is seeded: the other slot's cells for that start are copied into it, which costs a
memory copy where evaluating them again costs a forward pass per token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from codeloop.backends.prefix import held_prefix, reusable_prefix


@dataclass
class Slot:
    """A sequence id and what its cells hold, position by position."""

    id: int
    tokens: list[int] = field(default_factory=list)
    # Leading tokens computed in their prompt's own chunks (not one by one, as generated): only
    # those may be reused (see prefix.py).
    chunked: int = 0
    busy: bool = False
    used: int = 0  # when it was last claimed or released, for eviction

    def held(self, prompt: Sequence[int]) -> int:
        """How many leading tokens of the prompt the slot's cells hold."""
        return held_prefix(np.asarray(self.tokens, dtype=np.intc), prompt)

    def extended_by(self, prompt: Sequence[int]) -> bool:
        """Whether `prompt` goes on from the prompt these cells were filled for: the same conversation."""
        return self.chunked > 0 and self.held(prompt) >= self.chunked

    def kept(self, prompt: Sequence[int], starts: Sequence[int]) -> int:
        """The cached tokens a request for `prompt` (cut at `starts`) would keep."""
        return reusable_prefix(starts, min(self.held(prompt), self.chunked), len(prompt))

    def clear(self) -> None:
        self.tokens = []
        self.chunked = 0


# Fewer reusable tokens than this are evaluated again rather than copied from another slot: the copy
# moves a whole KV stream (llama.cpp copies between streams whole), tens of milliseconds.
SEED_MIN_TOKENS = 32


@dataclass(frozen=True)
class Claim:
    slot: Slot
    kept: int  # leading prompt tokens taken from its cells
    held: int  # leading prompt tokens its cells held (those past `kept` are evaluated again)
    # Another slot whose first `kept` cells are to be copied into this one first (None: its own).
    donor: Slot | None = None


class SlotTable:
    """The slots of one context; claimed by a request for its whole life, then idle and still cached."""

    def __init__(self, ids: Sequence[int]) -> None:
        self.slots = [Slot(id) for id in ids]
        self._clock = 0

    def claim(self, prompt: Sequence[int], starts: Sequence[int], reuse: bool = True) -> Claim | None:
        """The idle slot of the conversation `prompt` continues; else an empty one; else the least
        recently used. None when every slot is busy."""
        idle = [slot for slot in self.slots if not slot.busy]
        if not idle:
            return None
        kept = {slot.id: slot.kept(prompt, starts) if reuse else 0 for slot in idle}
        ours = {slot.id for slot in idle if reuse and slot.extended_by(prompt)}
        chosen = max(
            idle,
            key=lambda slot: (
                slot.id in ours,
                kept[slot.id] if slot.id in ours else 0,
                not slot.tokens,
                -slot.used,
            ),
        )
        chosen.busy = True
        self._tick(chosen)
        held = min(chosen.held(prompt), len(prompt) - 1)
        found = self.donor(chosen, prompt, starts, kept[chosen.id]) if reuse else None
        if found is not None:
            donor, donated = found
            return Claim(chosen, donated, min(donor.held(prompt), len(prompt) - 1), donor)
        return Claim(chosen, kept[chosen.id], held)

    def donor(
        self, slot: Slot, prompt: Sequence[int], starts: Sequence[int], have: int
    ) -> tuple[Slot, int] | None:
        """Another slot, busy or idle, whose computed cells hold at least SEED_MIN_TOKENS more of the
        prompt's reusable start than the `have` tokens `slot` holds: the one holding the most, and how
        many it holds."""
        offers = [(other, other.kept(prompt, starts)) for other in self.slots if other is not slot]
        best = max(offers, key=lambda offer: offer[1], default=None)
        if best is None or best[1] < have + SEED_MIN_TOKENS:
            return None
        return best

    def release(self, slot: Slot) -> None:
        slot.busy = False
        self._tick(slot)

    def evictable(self) -> Slot | None:
        """The idle slot with cells that was used least recently: the one to empty for room."""
        idle = [slot for slot in self.slots if not slot.busy and slot.tokens]
        return min(idle, key=lambda slot: slot.used, default=None)

    @property
    def free(self) -> int:
        return sum(not slot.busy for slot in self.slots)

    def _tick(self, slot: Slot) -> None:
        self._clock += 1
        slot.used = self._clock
