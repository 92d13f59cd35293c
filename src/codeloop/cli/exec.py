"""`codeloop exec`: run Python from a file or stdin in a fresh sandbox session and print what it did.

In a terminal the output is framed and coloured; piped or redirected, it is written as the code writes
it, while it runs, for the next program to read, and the exit status says how the code ended."""

from __future__ import annotations

import argparse
import asyncio
import base64
import codecs
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from codeloop.cli.options import add_settings_flags, settings_from
from codeloop.cli.render import TrailPrinter, show_plain
from codeloop.execution import Execution, Outcome

EXIT_CODES = {Outcome.OUTCOME_OK: 0, Outcome.OUTCOME_FAILED: 1, Outcome.OUTCOME_DEADLINE_EXCEEDED: 124}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run Python in a fresh sandbox session. In a terminal its output is shown framed; piped or "
        "redirected, it is written exactly as the code writes it, as it runs (stdout and stderr together, "
        "in order), and what became of the files it wrote goes to stderr."
    )
    parser.epilog = (
        "Exit status: 0 if the code ran to the end, 1 if it failed, 124 if it ran past its time limit."
    )
    parser.add_argument("file", nargs="?", default="-", help="A Python file, or - for stdin (the default).")
    parser.add_argument("--json", action="store_true", help='Print {"outcome", "output", "files"} as JSON.')
    parser.add_argument(
        "--files-dir", type=Path, default=Path("."), help="Where figures and files are saved (default: .)."
    )
    add_settings_flags(
        parser, "exec_timeout", "output_limit", "exec_memory_mib", "insecure_no_sandbox", "preload"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    code = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    plain = not args.json and not sys.stdout.isatty()
    live = LivePrinter(sys.stdout) if plain else None
    execution = asyncio.run(_execute(code, args, live))
    if args.json:
        print(json.dumps(_as_json(execution)))
    elif live is None:
        TrailPrinter(Console(highlight=False), args.files_dir).show_execution(execution)
    else:
        rest = dataclasses.replace(execution, output=live.rest(execution.output))
        show_plain(rest, args.files_dir, sys.stdout, sys.stderr)
    return EXIT_CODES.get(execution.outcome, 1)


async def _execute(code: str, args: argparse.Namespace, live: LivePrinter | None) -> Execution:
    from codeloop.sandbox.factory import start_sandbox

    settings = settings_from(args)
    sandbox = await start_sandbox(settings.sandbox_limits, settings.sandbox_config)
    try:
        session = await sandbox.open_session()
        return await session.run(code, on_output=live.feed if live else None)
    finally:
        await sandbox.close()


class LivePrinter:
    """Writes the code's output as it comes; then, of the whole output, only what was not written
    (a traceback, a note that output was cut)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._written: list[str] = []

    def feed(self, data: bytes) -> None:
        if text := self._decoder.decode(data):
            self._out.write(text)
            self._out.flush()
            self._written.append(text)

    def rest(self, output: str) -> str:
        written = "".join(self._written)  # an unfinished character at the end was not: it is in the rest
        if output.startswith(written):
            return output[len(written) :]
        # The result kept less than was written, to make room for its traceback: the rest is from there.
        same = 0
        for ours, theirs in zip(written, output, strict=False):
            if ours != theirs:
                break
            same += 1
        return output[same:]


def _as_json(execution: Execution) -> dict[str, Any]:
    return {
        "outcome": execution.outcome.value,
        "output": execution.output,
        "files": [
            {"name": f.name, "mimeType": f.mime_type, "data": base64.b64encode(f.data).decode()}
            for f in execution.files
        ],
    }
