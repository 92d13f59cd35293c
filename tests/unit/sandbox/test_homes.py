"""Sandbox dirs left by servers that died are removed by the next server; live ones are not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from codeloop.sandbox.homes import PREFIX, make_home


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_orphans_are_removed_and_the_rest_kept(tmp_path: Path) -> None:
    orphan = tmp_path / f"{PREFIX}{dead_pid()}-abc"
    (orphan / "root").mkdir(parents=True)
    live = tmp_path / f"{PREFIX}{os.getppid()}-def"
    live.mkdir()
    unrelated = tmp_path / f"{PREFIX}old-style"
    unrelated.mkdir()
    home = make_home(tmp_path)
    assert home.name.startswith(f"{PREFIX}{os.getpid()}-") and home.is_dir()
    assert not orphan.exists()
    assert live.exists() and unrelated.exists()
