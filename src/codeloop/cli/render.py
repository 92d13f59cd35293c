"""Showing a trail: in a terminal, text as it streams, code highlighted, results framed; to a pipe or a
file, a block's output exactly as the code wrote it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from codeloop.execution import Execution, NamedFile, Outcome
from codeloop.files.saving import Saved, save_file
from codeloop.loop.events import CodeBlock, CodeResult, Event, Finished, TextDelta

_STYLES = {
    Outcome.OUTCOME_OK: ("green", "result"),
    Outcome.OUTCOME_FAILED: ("red", "failed"),
    Outcome.OUTCOME_DEADLINE_EXCEEDED: ("yellow", "deadline exceeded"),
}
_MIME_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")
_SHOWN_CHARS = 200


class TrailPrinter:
    def __init__(self, console: Console, files_dir: Path) -> None:
        self.console = console
        self.files_dir = files_dir

    def show(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.console.print(event.text, end="", markup=False, highlight=False, soft_wrap=True)
        elif isinstance(event, CodeBlock):
            self.console.print(
                Panel(Syntax(event.code.rstrip("\n"), "python"), title="code", title_align="left")
            )
        elif isinstance(event, CodeResult):
            self.show_execution(event.execution)
        elif isinstance(event, Finished):
            usage = event.usage
            self.console.print(
                f"\n[dim]{event.finish_reason} · {usage.prompt_tokens} prompt + {usage.candidates_tokens} "
                f"generated + {usage.tool_use_prompt_tokens} tool tokens[/dim]"
            )
            if event.message:
                self.console.print(Text(event.message, style="dim"))

    def show_execution(self, execution: Execution) -> None:
        color, title = _STYLES.get(execution.outcome, ("white", str(execution.outcome)))
        body = Text(execution.output.rstrip("\n") or "(no output)")
        self.console.print(Panel(body, title=title, title_align="left", border_style=color))
        for file in execution.files:
            saved = save_file(self.files_dir, file.name, file.data)
            self.console.print(Text(_saved_line(file, saved), style="dim"))


def show_plain(execution: Execution, files_dir: Path, out: TextIO, err: TextIO) -> None:
    """What `python -c` would show a script reading its output: the output as it is on `out` (no
    frame, no colour, no note), and what became of each file the code wrote on `err`."""
    out.write(execution.output)
    out.flush()
    for file in execution.files:
        saved = save_file(files_dir, file.name, file.data)
        print(_saved_line(file, saved), file=err)


def _saved_line(file: NamedFile, saved: Saved) -> str:
    """What became of a returned file, its name and type shown escaped: they are the code's to choose."""
    if saved.path is None:
        return f"not saved: {_shown(file.name)}: {saved.note}"
    mime_type = file.mime_type if _MIME_TYPE.fullmatch(file.mime_type) else "a file"
    line = f"saved {mime_type} to {saved.path}"
    return f"{line} (returned as {_shown(file.name)}; {saved.note})" if saved.note else line


def _shown(name: str) -> str:
    return repr(name if len(name) <= _SHOWN_CHARS else name[:_SHOWN_CHARS] + "...")
