"""What the loop reports as it runs: text as it is generated, each code block, its output as it runs
(if asked for), each result, the end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codeloop.execution import Execution
from codeloop.logprobs import TokenLogprob


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class CodeBlock:
    code: str
    language: str = "PYTHON"
    id: str | None = None  # unique within the run; the block's result carries the same


@dataclass(frozen=True)
class OutputPiece:
    """What a running block printed since its last piece (stdout and stderr in the order printed),
    where the run was asked for live output; its CodeResult still follows, whole."""

    text: str
    id: str | None = None  # the id of the CodeBlock that is running


@dataclass(frozen=True)
class CodeResult:
    execution: Execution
    id: str | None = None  # the id of the CodeBlock that ran


@dataclass(frozen=True)
class FunctionCall:
    """A call of one of the client's functions: the client runs it and sends back a functionResponse."""

    name: str
    args: dict[str, Any]
    id: str | None = None  # the client's functionResponse names it back


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    candidates_tokens: int = 0
    tool_use_prompt_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.candidates_tokens + self.tool_use_prompt_tokens


@dataclass(frozen=True)
class Finished:
    finish_reason: str
    usage: Usage
    message: str | None = None  # why, in plain words, where the finish is not a plain STOP
    # Each generated token's log-probability, in order, where the request asked for them.
    logprobs: tuple[TokenLogprob, ...] | None = None


Event = TextDelta | CodeBlock | OutputPiece | CodeResult | FunctionCall | Finished
