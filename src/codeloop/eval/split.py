"""The dev split, for tuning prompts and loop settings, kept apart from the reported test split.

An item is in dev when the first 8 hex digits of the SHA-256 of its id, as a number, are below
30 modulo 100 (about 30% of a suite), so the split is the same on every machine, in every run, and
does not move when a suite grows or another suite is added.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

from codeloop.eval.items import Item

Split = Literal["dev", "test", "all"]
DEV_PERCENT = 30


def split_of(item_id: str) -> Literal["dev", "test"]:
    digest = hashlib.sha256(item_id.encode()).hexdigest()
    return "dev" if int(digest[:8], 16) % 100 < DEV_PERCENT else "test"


def select(items: Sequence[Item], split: Split, limit: int | None = None) -> list[Item]:
    """The items of one split, in suite order, the first `limit` of them."""
    chosen = [item for item in items if split == "all" or split_of(item.id) == split]
    return chosen if limit is None else chosen[:limit]
