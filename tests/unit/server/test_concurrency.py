"""ConcurrencyLimiter: a caller's requests past the limit are refused at once, and slots always come back."""

from __future__ import annotations

import pytest

from codeloop.errors import QuotaExceeded
from codeloop.server.limits import ConcurrencyLimiter


def test_past_the_limit_a_caller_is_refused_and_others_are_not() -> None:
    limiter = ConcurrencyLimiter(2)
    with limiter.slot("a"), limiter.slot("a"):
        assert limiter.in_flight("a") == 2
        with pytest.raises(QuotaExceeded) as refused, limiter.slot("a"):
            pass
        assert (refused.value.code, refused.value.status) == (429, "RESOURCE_EXHAUSTED")
        with limiter.slot("b"):
            assert limiter.in_flight("b") == 1
    assert limiter.in_flight("a") == 0


def test_a_slot_comes_back_when_its_request_fails() -> None:
    limiter = ConcurrencyLimiter(1)
    with pytest.raises(RuntimeError), limiter.slot("a"):
        raise RuntimeError("the request failed")
    with limiter.slot("a"):
        assert limiter.in_flight("a") == 1


def test_zero_means_no_limit() -> None:
    limiter = ConcurrencyLimiter(0)
    with limiter.slot("a"), limiter.slot("a"), limiter.slot("a"):
        assert limiter.in_flight("a") == 3
