"""A full disk met while storing files is DiskFull; every other OS error is left as it is."""

from __future__ import annotations

import errno
import os

import pytest

from codeloop.errors import DiskFull
from codeloop.files.disk import map_disk_full


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_or_quota_is_disk_full(number: int) -> None:
    with pytest.raises(DiskFull) as raised, map_disk_full():
        raise OSError(number, os.strerror(number))
    assert (raised.value.code, raised.value.status) == (503, "UNAVAILABLE")
    assert "disk is full" in raised.value.message
    assert isinstance(raised.value.__cause__, OSError)


def test_other_os_errors_pass_unchanged() -> None:
    with pytest.raises(PermissionError), map_disk_full():
        raise PermissionError(errno.EACCES, "Permission denied")
