"""Ledger: what files and unfinished uploads hold, in all and per API key; refusals change nothing."""

from __future__ import annotations

import pytest

from codeloop.errors import QuotaExceeded
from codeloop.files.quota import Ledger
from codeloop.owners import ANONYMOUS, key_owner

A, B = key_owner("a"), key_owner("b")


def test_a_key_is_bounded_by_its_own_cap_and_by_the_total() -> None:
    ledger = Ledger(max_total_bytes=100, max_key_bytes=40)
    ledger.charge("a1", A, 40)
    with pytest.raises(QuotaExceeded, match="This API key's file storage is full"):
        ledger.charge("a2", A, 1)
    ledger.charge("b1", B, 40)
    ledger.charge("n1", ANONYMOUS, 20)  # the anonymous owner has no cap of its own
    with pytest.raises(QuotaExceeded, match="File storage is full") as refused:
        ledger.charge("n2", ANONYMOUS, 1)
    assert "100 bytes" in refused.value.message and "80" not in refused.value.message  # no one's usage
    assert ledger.by_owner() == {A: 40, B: 40, ANONYMOUS: 20}
    assert (ledger.used(), ledger.used(A), ledger.used(key_owner("c"))) == (100, 40, 0)


def test_a_refused_charge_changes_nothing_and_shrinking_never_fails() -> None:
    ledger = Ledger(max_total_bytes=10, max_key_bytes=10)
    ledger.charge("upload", A, 6)
    with pytest.raises(QuotaExceeded):
        ledger.charge("upload", A, 11)
    assert ledger.used(A) == 6
    ledger.charge("forced", A, 50, force=True)  # what is on disk at start is taken as it is
    ledger.charge("forced", A, 49)
    assert ledger.used() == 55


def test_growing_claims_only_more_and_a_charge_can_take_over_another() -> None:
    ledger = Ledger(max_total_bytes=10)
    ledger.grow("body", A, 4)
    ledger.grow("body", A, 2)
    assert ledger.used() == 4
    ledger.charge("file", A, 10, instead_of="body")  # the body's 4 bytes become the file's 10
    assert ledger.by_owner() == {A: 10}
    ledger.release("file")
    ledger.release("file")
    assert ledger.used() == 0 and ledger.by_owner() == {}
