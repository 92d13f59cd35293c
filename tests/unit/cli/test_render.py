from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from codeloop.cli.render import TrailPrinter, show_plain
from codeloop.execution import Execution, NamedFile, Outcome
from codeloop.loop.events import Finished, Usage


def test_a_finish_that_is_not_stop_says_why(tmp_path: Path) -> None:
    out = io.StringIO()
    printer = TrailPrinter(Console(file=out, width=100), tmp_path)
    printer.show(Finished("TOO_MANY_TOOL_CALLS", Usage(1, 2, 3), "The loop ran its limit of 2 code blocks."))
    assert "TOO_MANY_TOOL_CALLS" in out.getvalue()
    assert "The loop ran its limit of 2 code blocks." in out.getvalue()


def test_plain_output_is_the_code_s_own_and_files_are_noted_apart(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    execution = Execution(Outcome.OUTCOME_FAILED, "half a line", (NamedFile("t.csv", "text/csv", b"a\n"),))
    show_plain(execution, tmp_path, out, err)
    assert out.getvalue() == "half a line"
    assert err.getvalue() == f"saved text/csv to {tmp_path / 't.csv'}\n"
