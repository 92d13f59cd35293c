"""`codeloop`: serve the API, ask a question, or run code in the sandbox."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from codeloop import __version__
from codeloop.cli import ask, bench, models, serve
from codeloop.cli import eval as eval_command
from codeloop.cli import exec as exec_command
from codeloop.errors import CodeloopError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codeloop", description="Gemini-style code execution, self-hosted, for any model."
    )
    parser.add_argument("--version", action="version", version=f"codeloop {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, ask, exec_command, models, bench, eval_command):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except CodeloopError as exc:
        print(f"codeloop: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
