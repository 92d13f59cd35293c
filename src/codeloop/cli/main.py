"""`codeloop`: serve the API, ask a question, or run code in the sandbox."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Collection, Sequence

from codeloop import __version__
from codeloop.errors import CodeloopError

# Each command is the module of codeloop.cli of its name, with add_arguments(parser), which also sets
# the `run` the parsed arguments go to.
COMMANDS = {
    "serve": "Run the HTTP server.",
    "ask": "Ask one question, running code as the model writes it.",
    "exec": "Run code in the sandbox and print its output.",
    "models": "List models, or pull an embedded model's weights.",
    "bench": "Run a benchmark.",
    "eval": "Run a benchmark suite through the loop and report accuracy, cost and speed.",
}


def build_parser(loaded: Collection[str] = tuple(COMMANDS)) -> argparse.ArgumentParser:
    """The CLI's parser; a command not in `loaded` is listed with its help, but its module (and so
    its flags) is not imported."""
    parser = argparse.ArgumentParser(
        prog="codeloop", description="Gemini-style code execution, self-hosted, for any model."
    )
    parser.add_argument("--version", action="version", version=f"codeloop {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        command = commands.add_parser(name, help=help_text)
        if name in loaded:
            importlib.import_module(f"codeloop.cli.{name}").add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Only the command that runs is imported: the others would load the SDK, the loop and the sandbox
    # for nothing (`codeloop --help` imports none of them).
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(loaded=[command] if command else []).parse_args(argv)
    try:
        code: int = args.run(args)
    except CodeloopError as exc:
        print(f"codeloop: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
