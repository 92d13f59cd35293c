"""A conversation of steps as generateContent's contents: what the loop already knows how to replay.

The user's input and the function results the client sends are user turns; the model's text,
its code, the code's results and its function calls are model turns; thoughts are left out.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from google.genai import types

from codeloop.errors import InvalidRequest
from codeloop.wire.interactions.shapes import (
    CodeExecutionCallStep,
    CodeExecutionResultStep,
    Content,
    FunctionCallStep,
    FunctionResultStep,
    MediaContent,
    ModelOutputStep,
    Step,
    TextContent,
    UserInputStep,
)


def contents_of(steps: Iterable[Step]) -> list[types.Content]:
    """The steps as alternating user and model contents, adjacent steps of one side merged."""
    contents: list[types.Content] = []
    names: dict[str, str] = {}  # function call ids to names: a result may leave its name out
    for step in steps:
        role, parts = _parts(step, names)
        if not parts:
            continue
        if contents and contents[-1].role == role:
            contents[-1].parts = [*(contents[-1].parts or ()), *parts]
        else:
            contents.append(types.Content(role=role, parts=parts))
    return contents


def file_parts(steps: Iterable[Step]) -> int:
    """How many files the steps carry: the files a turn stages, counted from the end."""
    return sum(
        isinstance(item, MediaContent)
        for step in steps
        if isinstance(step, UserInputStep)
        for item in step.content or ()
    )


def _parts(step: Step, names: dict[str, str]) -> tuple[str, list[types.Part]]:
    if isinstance(step, UserInputStep):
        return "user", [_part(item) for item in step.content or ()]
    if isinstance(step, ModelOutputStep):
        # What the model drew or said in other media is not replayed: these models read text.
        texts = [item.text for item in step.content or () if isinstance(item, TextContent)]
        return "model", [types.Part(text=text) for text in texts]
    if isinstance(step, CodeExecutionCallStep):
        code = types.ExecutableCode(language=types.Language.PYTHON, code=step.arguments.code or "")
        return "model", [types.Part(executable_code=code)]
    if isinstance(step, CodeExecutionResultStep):
        outcome = types.Outcome.OUTCOME_FAILED if step.is_error else types.Outcome.OUTCOME_OK
        result = types.CodeExecutionResult(outcome=outcome, output=_text(step.result))
        return "model", [types.Part(code_execution_result=result)]
    if isinstance(step, FunctionCallStep):
        names[step.id] = step.name
        call = types.FunctionCall(id=step.id, name=step.name, args=step.arguments)
        return "model", [types.Part(function_call=call)]
    if isinstance(step, FunctionResultStep):
        name = step.name or names.get(step.call_id)
        if name is None:
            raise InvalidRequest(
                f"* function_result: call_id {step.call_id!r} answers no function_call of this "
                "conversation; name the function (name) or send the call's id."
            )
        response = types.FunctionResponse(id=step.call_id, name=name, response=_response(step.result))
        return "user", [types.Part(function_response=response)]
    return "model", []  # a thought


def _part(item: Content) -> types.Part:
    if isinstance(item, TextContent):
        return types.Part(text=item.text)
    if item.data is not None:
        if not item.mime_type:
            raise InvalidRequest(f"* input: {item.type} content with data needs its mime_type.")
        return types.Part(inline_data=types.Blob(mime_type=item.mime_type, data=_decoded(item.data)))
    if item.uri:
        return types.Part(file_data=types.FileData(file_uri=item.uri, mime_type=item.mime_type))
    raise InvalidRequest(f"* input: {item.type} content needs its data (base64) or a uri.")


def _decoded(data: str) -> bytes:
    """Standard or URL-safe base64 (the SDK writes either); anything else is refused, never skipped."""
    try:
        return base64.b64decode(data.translate(_URL_SAFE), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("* input: data is not base64.") from None


_URL_SAFE = str.maketrans("-_", "+/")


def _text(result: str | list[Content]) -> str:
    if isinstance(result, str):
        return result
    return "".join(item.text for item in result if isinstance(item, TextContent))


def _response(result: dict[str, Any] | list[Content] | str) -> dict[str, Any]:
    """A function's result as FunctionResponse.response holds it: an object."""
    if isinstance(result, dict):
        return result
    return {"result": _text(result)}
