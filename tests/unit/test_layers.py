"""Imports point one way: what each package of codeloop may not import, found in its source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import codeloop

PACKAGE = Path(codeloop.__file__).parent

# A module that imports what it is under would run the layers backwards.
FORBIDDEN = {
    "fences": {"backends", "loop", "sandbox", "wire", "server", "cli", "eval", "bench", "settings"},
    "backends": {"loop", "wire", "server", "cli", "eval", "bench"},
    "sandbox": {"backends", "loop", "wire", "server", "cli", "eval", "bench", "settings", "cluster"},
    "loop": {"wire", "server", "cli", "eval", "bench", "settings"},
    "execution": {
        "backends",
        "loop",
        "sandbox",
        "wire",
        "files",
        "server",
        "cli",
        "eval",
        "bench",
        "settings",
    },
    "logprobs": {
        "backends",
        "loop",
        "sandbox",
        "wire",
        "files",
        "server",
        "cli",
        "eval",
        "bench",
        "settings",
    },
    "wire": {"sandbox", "files", "backends", "server", "cli", "eval", "bench", "settings"},
}


def imported(path: Path) -> set[str]:
    """The codeloop packages a module imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name.split(".")[1] for name in names if name.startswith("codeloop.")}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer: str) -> None:
    where = PACKAGE / layer
    modules = sorted(where.rglob("*.py")) if where.is_dir() else [where.with_suffix(".py")]
    assert modules
    wrong = {
        f"{path.relative_to(PACKAGE)} imports codeloop.{name}"
        for path in modules
        for name in imported(path) & FORBIDDEN[layer]
    }
    assert not wrong


def test_the_single_machine_path_never_imports_ray() -> None:
    """Ray is an optional extra: the server, the CLI and the runtime load without it, until --ray."""
    code = (
        "import sys\n"
        "import codeloop.cli.main, codeloop.server.app, codeloop.runtime, codeloop.sandbox.factory\n"
        "print(sorted(name for name in sys.modules if name == 'ray' or name.startswith('ray.')))\n"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout == "[]\n"
