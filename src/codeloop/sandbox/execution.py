"""What running one block produced: an outcome, the captured output and the files it wrote."""

from __future__ import annotations

from dataclasses import dataclass, field

from google.genai.types import Outcome

__all__ = ["Execution", "Outcome", "OutputFile"]


@dataclass(frozen=True)
class OutputFile:
    name: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class Execution:
    outcome: Outcome
    output: str
    files: tuple[OutputFile, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OUTCOME_OK
