"""What running one block produced: an outcome, the captured output and the files it wrote."""

from __future__ import annotations

from dataclasses import dataclass, field

from google.genai.types import Outcome

__all__ = ["BlockStats", "Execution", "NamedFile", "Outcome"]


@dataclass(frozen=True)
class NamedFile:
    """A file by name: one a request stages into a session, or one a block wrote."""

    name: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class BlockStats:
    """What a block cost: CPU time (reaped subprocesses included), wall time, the interpreter's peak RSS."""

    cpu_ms: float
    wall_ms: float
    peak_memory_bytes: int


@dataclass(frozen=True)
class Execution:
    outcome: Outcome
    output: str
    files: tuple[NamedFile, ...] = field(default=())
    stats: BlockStats | None = None  # None when the block never finished (deadline, crash)

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OUTCOME_OK
