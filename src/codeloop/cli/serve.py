"""`codeloop serve`: the Gemini / Vertex AI compatible HTTP server."""

from __future__ import annotations

import argparse
from typing import Any

from codeloop.cli.options import add_settings_flags, settings_from


def register(commands: Any) -> None:
    parser = commands.add_parser("serve", help="Run the HTTP server.", description=__doc__)
    add_settings_flags(
        parser,
        "host",
        "port",
        "model",
        "upstream_url",
        "threads",
        "exec_timeout",
        "max_code_blocks",
        "gemini_aliases",
        "cache_dir",
        "log_level",
    )
    add_settings_flags(
        parser,
        "insecure_no_sandbox",
        "output_limit",
        "exec_memory_mib",
        "exec_disk_mib",
        "exec_pids",
        "max_sessions",
        "session_idle_timeout",
        "preload",
        "zygotes",
        "spare_sessions",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from codeloop.server.app import create_app

    settings = settings_from(args)
    app = create_app(settings)
    print(f"codeloop: serving {settings.model} on http://{settings.host}:{settings.port}", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())
    return 0
