"""CLI flags made from Settings fields, so the flags, their help and the environment never disagree."""

from __future__ import annotations

import argparse
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeloop.settings import Settings


def add_settings_flags(parser: argparse.ArgumentParser, *names: str) -> None:
    for name in names:
        field = Settings.model_fields[name]
        flag = "--" + name.replace("_", "-")
        help_text = f"{field.description} (env CODELOOP_{name.upper()}, default {field.default!r})"
        if field.annotation is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(
                flag, type=_parser_for(field.annotation), default=None, help=help_text, dest=name
            )


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the flags the user gave on top."""
    given: dict[str, Any] = {
        name: value
        for name, value in vars(args).items()
        if name in Settings.model_fields and value is not None
    }
    return Settings(**given)


def _parser_for(annotation: Any) -> Callable[[str], Any]:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) == 1:  # X | None
        annotation = args[0]
    if annotation in (int, float, str, Path):
        parse: Callable[[str], Any] = annotation
        return parse
    raise TypeError(f"no CLI parser for {annotation!r}")
