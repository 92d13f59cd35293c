"""`codeloop bench`: side-by-side benchmarks (numbers, not pass/fail)."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

# Each suite is a module of codeloop.bench with add_arguments(parser) and run(args) -> int.
SUITES = {
    "sandbox": "Sandbox start-up and round trips vs a subprocess per block and a Jupyter kernel.",
    "model": "Embedded model throughput vs raw llama-cpp-python; KV-cache reuse; loop overhead.",
    "samples": "N programs of one chat decoded together in one context vs one after another.",
    "server": "Requests/s and p50/p99 latency of generateContent with one block, vs a bare FastAPI ceiling.",
    "flood": "Server memory and /healthz latency while hostile blocks flood it, vs benign blocks.",
    "cluster": "On a local multi-node Ray cluster: block latency, sessions/s on 1 and 2 nodes, replica hops.",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    suites = parser.add_subparsers(dest="suite", required=True, metavar="SUITE")
    for name, help_text in SUITES.items():
        suite = suites.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(f"codeloop.bench.{name}")
        module.add_arguments(suite)
        suite.set_defaults(run=_runner(module))


def _runner(module: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        code: int = module.run(args)
        return code

    return run
