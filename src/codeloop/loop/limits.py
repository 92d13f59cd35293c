"""How far one run of the loop may go: code blocks, failures in a row, seconds per block."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoopLimits:
    max_code_blocks: int = 10
    # Gemini regenerates failing code up to five times before it gives up.
    max_consecutive_failures: int = 5
    timeout_s: float | None = None  # per block; None leaves it to the sandbox's limits
