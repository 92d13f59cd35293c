"""`codeloop ask`: run the loop in-process on one question and print the trail as it happens."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import mimetypes
from pathlib import Path

from google.genai import types
from rich.console import Console

from codeloop.cli.options import add_settings_flags, settings_from
from codeloop.cli.render import TrailPrinter
from codeloop.errors import InvalidRequest
from codeloop.loop.engine import Conversation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", help="What to ask.")
    parser.add_argument("--no-code", action="store_true", help="Answer without code execution.")
    parser.add_argument(
        "--file",
        dest="files",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="A file for the code to read, staged under its own name (repeatable).",
    )
    parser.add_argument(
        "--files-dir", type=Path, default=Path("."), help="Where figures and files are saved (default: .)."
    )
    add_settings_flags(parser, "model", "exec_timeout", "max_code_blocks", "insecure_no_sandbox")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_ask(args))


def question(text: str, files: list[Path]) -> types.Content:
    """The user turn: the files first, as Gemini clients send them, then the question."""
    parts = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidRequest(f"cannot read {path}: {exc.strerror}") from None
        mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts.append(
            types.Part(inline_data=types.Blob(data=data, mime_type=mime_type, display_name=path.name))
        )
    return types.Content(role="user", parts=[*parts, types.Part(text=text)])


async def _ask(args: argparse.Namespace) -> int:
    from codeloop.runtime import open_runtime

    settings = settings_from(args)
    conversation = Conversation.from_contents(
        [question(args.question, args.files)], code_execution=not args.no_code
    )
    printer = TrailPrinter(Console(highlight=False), args.files_dir)
    async with open_runtime(settings) as runtime:
        engine = await runtime.engine(settings.model)
        async with contextlib.aclosing(engine.run(conversation)) as events:
            async for event in events:
                printer.show(event)
    return 0
