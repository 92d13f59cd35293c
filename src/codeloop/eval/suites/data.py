"""Benchmark data shipped inside installed packages, never fetched from a hub."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from codeloop.errors import InvalidRequest


def package_file(package: str, path: str, extra: str) -> Traversable:
    """A data file of an installed package; a clear error naming the extra when it is missing."""
    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        raise InvalidRequest(
            f"This suite needs the {package!r} package: pip install -e '.[{extra}]'."
        ) from None
    file = root.joinpath(*path.split("/"))
    if not file.is_file():
        raise InvalidRequest(f"{package!r} has no {path}; is it the version constraints.txt pins?")
    return file
