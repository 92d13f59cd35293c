"""The loop's events as an interaction's steps, and the stream events that tell them as they happen.

Text opens a model_output step that grows by deltas; a code block is a code_execution_call step,
its result the code_execution_result step paired to it by call_id (the files its code wrote after
the output, inline or linked); a call of the client's functions is a function_call step, and
leaves the interaction requiring action.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from codeloop.execution import Outcome
from codeloop.loop.events import CodeBlock, CodeResult, Finished, FunctionCall, TextDelta, Usage
from codeloop.wire.interactions import events
from codeloop.wire.interactions.events import EventBody
from codeloop.wire.interactions.shapes import (
    CodeExecutionArguments,
    CodeExecutionCallStep,
    CodeExecutionResultStep,
    Content,
    FunctionCallStep,
    InteractionError,
    InteractionUsage,
    MediaContent,
    ModelOutputStep,
    Status,
    Step,
    TextContent,
)
from codeloop.wire.response import LinkedFile, Returned, ReturnedFile, ReturnedResult

# What each finish means for the interaction; a function call makes it requires_action.
_STATUS: dict[str, Status] = {"STOP": "completed", "MAX_TOKENS": "incomplete"}


def new_call_id() -> str:
    return "call_" + secrets.token_urlsafe(12)


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Ending:
    """How a run ended: the interaction's status, what it cost, what went wrong."""

    status: Status
    usage: InteractionUsage | None = None
    errors: list[InteractionError] = field(default_factory=list)


class StepWriter:
    """One run's steps, written as its events come; each call returns the stream events it makes."""

    def __init__(self, first_index: int, new_id: Callable[[], str] = new_call_id) -> None:
        self.steps: list[Step] = []
        self.first_index = first_index
        self._new_id = new_id
        self._text: ModelOutputStep | None = None  # the model_output step text is going into
        self._call_id: str | None = None  # the code block awaiting its result
        self._called = False

    def feed(self, event: Returned) -> list[EventBody]:
        if isinstance(event, TextDelta):
            return self._text_delta(event.text) if event.text else []
        said = self.close()
        if isinstance(event, CodeBlock):
            self._call_id = self._new_id()
            arguments = CodeExecutionArguments(code=event.code, language="python")
            return said + self._whole(CodeExecutionCallStep(id=self._call_id, arguments=arguments))
        if isinstance(event, CodeResult):
            event = ReturnedResult(event.execution, event.execution.files)
        if isinstance(event, ReturnedResult):
            return said + self._whole(self._result(event))
        if isinstance(event, FunctionCall):
            self._called = True
            step = FunctionCallStep(id=self._new_id(), name=event.name, arguments=event.args)
            return said + self._whole(step)
        return said

    def close(self) -> list[EventBody]:
        """End the open text step, if any."""
        if self._text is None:
            return []
        self._text = None
        return [events.step_stop(self._index(len(self.steps) - 1))]

    def ending(self, finished: Finished) -> Ending:
        usage = usage_of(finished.usage)
        if self._called:
            return Ending("requires_action", usage)
        status = _STATUS.get(finished.finish_reason)
        if status is None:
            error = InteractionError(
                code=finished.finish_reason, message="The model's answer could not be used as it was written."
            )
            return Ending("failed", usage, [error])
        return Ending(status, usage)

    def _text_delta(self, text: str) -> list[EventBody]:
        said: list[EventBody] = []
        if self._text is None:
            self._text = ModelOutputStep(content=[])
            self.steps.append(self._text)
            said.append(events.step_start(self._index(len(self.steps) - 1), self._text))
            self._text.content = [TextContent(text="")]
        assert self._text.content is not None and isinstance(self._text.content[0], TextContent)
        self._text.content[0].text += text
        return [*said, events.text_delta(self._index(len(self.steps) - 1), text)]

    def _whole(self, step: Step) -> list[EventBody]:
        """A step that arrives complete: its start carries all of it."""
        self.steps.append(step)
        index = self._index(len(self.steps) - 1)
        return [events.step_start(index, step), events.step_stop(index)]

    def _result(self, returned: ReturnedResult) -> CodeExecutionResultStep:
        execution = returned.execution
        output = _with_notes(execution.output, returned.notes)
        result: str | list[Content] = output
        if returned.files:
            text: list[Content] = [TextContent(text=output)] if output else []
            result = [*text, *map(_file_content, returned.files)]
        call_id, self._call_id = self._call_id or self._new_id(), None
        return CodeExecutionResultStep(
            call_id=call_id, result=result, is_error=execution.outcome != Outcome.OUTCOME_OK
        )

    def _index(self, position: int) -> int:
        return self.first_index + position


def usage_of(usage: Usage) -> InteractionUsage:
    return InteractionUsage(
        total_input_tokens=usage.prompt_tokens,
        total_output_tokens=usage.candidates_tokens,
        total_tool_use_tokens=usage.tool_use_prompt_tokens,
        total_tokens=usage.total_tokens,
    )


def _file_content(file: ReturnedFile) -> MediaContent:
    kind = file.mime_type.split("/", 1)[0]
    media = kind if kind in ("image", "audio", "video") else "document"
    if isinstance(file, LinkedFile):
        return MediaContent(type=media, uri=file.uri, mime_type=file.mime_type, name=file.name)
    data = base64.b64encode(file.data).decode()
    return MediaContent(type=media, data=data, mime_type=file.mime_type, name=file.name)


def _with_notes(output: str, notes: tuple[str, ...]) -> str:
    """The block's output, then a line per file left out and why."""
    if not notes:
        return output
    if output and not output.endswith("\n"):
        output += "\n"
    return output + "".join(note + "\n" for note in notes)
