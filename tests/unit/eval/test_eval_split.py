"""The dev split: stable, about 30%, disjoint from test."""

from __future__ import annotations

import hashlib

from codeloop.eval.items import Item
from codeloop.eval.split import select, split_of

ITEMS = [Item(f"item-{index:04d}", f"question {index}", str(index)) for index in range(1000)]


def test_about_thirty_percent_are_dev() -> None:
    dev = select(ITEMS, "dev")
    assert 250 <= len(dev) <= 350


def test_dev_and_test_partition_the_suite_in_order() -> None:
    dev, test = select(ITEMS, "dev"), select(ITEMS, "test")
    assert {item.id for item in dev}.isdisjoint(item.id for item in test)
    assert sorted(dev + test, key=ITEMS.index) == ITEMS == select(ITEMS, "all")
    assert dev == sorted(dev, key=ITEMS.index)


def test_the_split_is_a_pure_function_of_the_id() -> None:
    # Pinned: these must never move, or tuning on dev would leak into reported results.
    assert split_of("gsm8k-test-0013") == "dev"
    assert split_of("HumanEval/0") == "test"
    assert [split_of(item.id) for item in ITEMS[:12]] == ["test"] * 8 + ["dev", "dev", "test", "test"]
    digest = hashlib.sha256(b"item-0008").hexdigest()
    assert int(digest[:8], 16) % 100 < 30


def test_limit_takes_the_first_items_of_the_split() -> None:
    assert select(ITEMS, "test", 5) == select(ITEMS, "test")[:5]
    assert select(ITEMS, "dev", 0) == []
