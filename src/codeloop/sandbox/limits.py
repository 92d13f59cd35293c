"""Hard limits applied to every block a session runs."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_OUTPUT_BYTES = 1 << 20


@dataclass(frozen=True)
class Limits:
    timeout_s: float = DEFAULT_TIMEOUT_S
    output_bytes: int = DEFAULT_OUTPUT_BYTES
