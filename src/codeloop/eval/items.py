"""What an evaluation passes around: a benchmark item, the trail the loop left on it, its scored record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from codeloop.execution import Execution
from codeloop.loop.events import Usage

# How an item's answer is read from the model's reply and compared with the expected one.
AnswerKind = Literal["number", "weekday", "date", "text", "code"]


@dataclass(frozen=True)
class Attachment:
    """A file sent with the question, as a client sends one: an inlineData part after the text."""

    mime_type: str
    data: bytes
    display_name: str | None = None  # the Gemini API takes none: the sandbox names it input_file_0.csv


@dataclass(frozen=True)
class Item:
    id: str
    question: str  # the user message, exactly as the model gets it
    expected: str
    kind: AnswerKind = "number"
    # What grading, or checking the item itself, needs beyond `expected`.
    data: dict[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Trail:
    """One run of the loop on one item."""

    transcript: str  # everything the model wrote, its code blocks fenced where they ran
    text: str  # the final answer: what the model wrote after its last code result
    code: tuple[str, ...]
    executions: tuple[Execution, ...]
    finish_reason: str
    usage: Usage
    seconds: float


@dataclass(frozen=True)
class Graded:
    answer: str | None  # what was read from the reply; None when nothing could be
    correct: bool


@dataclass(frozen=True)
class Record:
    """One item's line in the report."""

    id: str
    question: str
    expected: str
    answer: str | None
    correct: bool
    blocks: int  # code blocks run: the loop's iterations
    failures: int  # blocks that ended OUTCOME_FAILED
    deadlines: int  # blocks that ended OUTCOME_DEADLINE_EXCEEDED
    prompt_tokens: int
    candidates_tokens: int
    tool_tokens: int
    tokens: int
    seconds: float
    finish_reason: str
    text: str
    code: tuple[str, ...] = ()
    error: str | None = None  # set when the loop itself raised: the item is counted wrong
