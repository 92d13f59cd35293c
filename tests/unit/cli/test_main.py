"""The CLI imports only the command that runs: `codeloop --help` loads no command, nor the SDK."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from codeloop.cli.main import COMMANDS, build_parser

LOADED = """
import json, sys
from codeloop.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("google.genai", "codeloop.cli.")))))
"""


def loaded_by(*argv: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED, *argv], capture_output=True, text=True, timeout=60, check=True
    )
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


def test_the_top_level_help_imports_no_command_and_not_the_sdk() -> None:
    assert loaded_by("--help") == ["codeloop.cli.main"]


@pytest.mark.parametrize("command", ["models", "serve"])
def test_a_command_imports_its_own_module_only(command: str) -> None:
    commands = {m for m in loaded_by(command, "--help") if m.removeprefix("codeloop.cli.") in COMMANDS}
    assert commands == {f"codeloop.cli.{command}"}


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "9"],
        ["ask", "q"],
        ["exec", "-"],
        ["models", "list"],
        ["bench", "model"],
        ["eval", "--suite", "x"],
    ],
)
def test_the_whole_parser_knows_every_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.command == argv[0] and callable(args.run)
    assert set(COMMANDS) == {"serve", "ask", "exec", "models", "bench", "eval"}
