"""A clock the Files API tests move by hand, for expiry."""

from __future__ import annotations

import pytest
from clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()
