"""`codeloop serve`: the Gemini / Vertex AI compatible HTTP server."""

from __future__ import annotations

import argparse
import contextlib
import sys

from codeloop.cli.options import add_settings_flags, settings_from

STARTUP_FAILURE = 3  # as uvicorn.run exits when the server could not start (its port taken)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    add_settings_flags(
        parser,
        *("host", "port", "log_level", "log_format"),
        *("model", "upstream_url", "threads", "slots", "cache_dir", "gemini_aliases"),
        *("exec_timeout", "max_code_blocks", "output_limit"),
        *("compute_first", "ground_numbers", "restore_quotes", "votes", "result_style"),
        *(
            "data_dir",
            "shared_data_dir",
            "max_file_bytes",
            "max_files_bytes",
            "files_ttl_s",
            "inline_file_bytes",
        ),
        "inline_response_bytes",
        *("insecure_no_sandbox", "exec_memory_mib", "exec_disk_mib", "exec_pids"),
        *(
            "max_sessions",
            "sessions_memory_mib",
            "max_kept_sessions",
            "session_idle_timeout",
            "preload",
            "zygotes",
            "spare_sessions",
            "ray",
            "ray_lease_s",
        ),
        *("api_keys_file", "allow_unauthenticated", "max_concurrent_per_key"),
        *(
            "max_files_bytes_per_key",
            "max_uploads_per_key",
            "upload_idle_timeout",
            "max_kept_sessions_per_key",
            "max_interactions",
            "max_interactions_per_key",
        ),
        *("max_header_bytes", "max_headers", "header_timeout_s", "body_timeout_s"),
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from codeloop.server.app import create_app
    from codeloop.server.auth import bind_refusal
    from codeloop.server.listen import uvicorn_config
    from codeloop.server.logs import configure_logging

    settings = settings_from(args)
    try:
        refusal = bind_refusal(settings)
    except ValueError as exc:
        refusal = str(exc)
    if refusal is not None:
        print(f"codeloop: {refusal}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    print(f"codeloop: serving {settings.model} on http://{settings.host}:{settings.port}", flush=True)
    server = uvicorn.Server(uvicorn_config(app, settings))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else STARTUP_FAILURE
