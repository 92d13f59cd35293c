"""interactions.create's body: lenient JSON in, a checked request out, or InvalidRequest saying where.

`input` takes four shapes (text, a content, contents, steps); it is read on its own, by shape as
the SDK writes it, so that an error names the one shape it was meant to be.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pydantic
from google.genai import types

from codeloop.errors import InvalidRequest
from codeloop.loop.functions import Functions
from codeloop.wire import lenient
from codeloop.wire.interactions.shapes import (
    STEP_TYPES,
    CodeExecutionTool,
    Content,
    CreateInteractionRequest,
    FunctionTool,
    InteractionGenerationConfig,
    Step,
    TextContent,
    ToolChoiceConfig,
    UserInputStep,
)
from codeloop.wire.request import coerce_repeated

_STEPS: pydantic.TypeAdapter[list[Step]] = pydantic.TypeAdapter(list[Step])
_CONTENTS: pydantic.TypeAdapter[list[Content]] = pydantic.TypeAdapter(list[Content])
_CONTENT: pydantic.TypeAdapter[Content] = pydantic.TypeAdapter(Content)

# Options codeloop cannot honour: refused with a reason, never ignored.
_REFUSED = {
    "agent": "agents are not served here, only models",
    "agent_config": "agents are not served here, only models",
    "cached_content": "context caching is not supported",
    "continuation_token": "this server never pauses decoding, so it issues no continuation tokens",
    "environment": "remote environments are not supported; code runs in this server's sandbox",
    "webhook_config": "webhooks are not supported; stream, or poll a background interaction",
    "response_format": "structured output is not supported; text only",
}
_REFUSED_CONFIG = ("image_config", "speech_config", "video_config", "transcription_config")
_CALLING_MODES = {
    "auto": types.FunctionCallingConfigMode.AUTO,
    "any": types.FunctionCallingConfigMode.ANY,
    "none": types.FunctionCallingConfigMode.NONE,
    "validated": types.FunctionCallingConfigMode.VALIDATED,
}


@dataclass(frozen=True)
class CreateInteraction:
    """A checked create request: its body, this turn's input as steps, and the client's functions."""

    body: CreateInteractionRequest
    model: str
    input: tuple[Step, ...]
    functions: Functions | None

    @property
    def code_execution(self) -> bool:
        return any(isinstance(tool, CodeExecutionTool) for tool in self.body.tools or ())

    @property
    def store(self) -> bool:
        """Stored unless the client says not (Google's default)."""
        return self.body.store is not False

    @property
    def config(self) -> InteractionGenerationConfig:
        return self.body.generation_config or InteractionGenerationConfig()


def parse_create_request(raw: bytes | str) -> CreateInteraction:
    data = lenient.loads(raw)
    if not isinstance(data, dict):
        raise InvalidRequest("Invalid JSON payload received. The request body must be a JSON object.")
    raw_input = data.pop("input", None)
    try:
        # Through JSON, so that JSON's types are kept strictly; a lone value stands for a list.
        body = CreateInteractionRequest.model_validate_json(
            json.dumps(coerce_repeated(CreateInteractionRequest, data))
        )
    except pydantic.ValidationError as exc:
        raise InvalidRequest(describe(exc)) from None
    for name, reason in _REFUSED.items():
        if getattr(body, name) is not None:
            raise InvalidRequest(f"* {name}: {reason}.")
    if not body.model:
        raise InvalidRequest("* model: required.")
    steps = input_steps(raw_input)
    _check_options(body)
    functions = _functions(body)
    if body.background and body.store is False:
        raise InvalidRequest("* background: a background interaction must be stored (store=true).")
    return CreateInteraction(body, body.model, tuple(steps), functions)


def input_steps(value: Any) -> list[Step]:
    """`input` as steps: text, a content or contents make one user_input step."""
    if value is None or value == "" or value == []:
        raise InvalidRequest("* input: required.")
    if isinstance(value, str):
        return [UserInputStep(content=[TextContent(text=value)])]
    if isinstance(value, dict):
        return [UserInputStep(content=[_read(_CONTENT, value)])]
    if not isinstance(value, list):
        raise InvalidRequest("* input: text, a content, a list of contents or a list of steps.")
    if any(isinstance(item, dict) and item.get("type") in STEP_TYPES for item in value):
        steps: list[Step] = _read(_STEPS, value)
        return steps
    return [UserInputStep(content=_read(_CONTENTS, value))]


def _read(adapter: pydantic.TypeAdapter[Any], value: Any) -> Any:
    try:
        # Through JSON, as the rest of the body: strict types where JSON has them.
        return adapter.validate_json(json.dumps(value))
    except pydantic.ValidationError as exc:
        raise InvalidRequest(describe(exc, "input")) from None


def describe(exc: pydantic.ValidationError, prefix: str = "") -> str:
    """Each error (the first five) with the path of the field it is about, as Google words it."""
    messages = []
    for error in exc.errors(include_url=False)[:5]:
        path = _path(prefix, error["loc"])
        if error["type"] == "extra_forbidden":
            parent, _, name = path.rpartition(".")
            where = f" at '{parent}'" if parent else ""
            messages.append(f'Unknown name "{name}"{where}: Cannot find field.')
        else:
            where = f" at '{path}'" if path else ""
            messages.append(f"Invalid value{where}: {error['msg']}.")
    return "Invalid JSON payload received. " + " ".join(messages)


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    path, previous = prefix, None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _is_branch(part, previous):
            path += f".{part}" if path else part
        previous = part
    return path


def _is_branch(part: str, previous: int | str | None) -> bool:
    """Whether a location's part names the union branch pydantic tried, where a field name would be: a
    discriminated union's tag (after a list index), or another union's type (str, literal[...], a class)."""
    if part in _TAGS and (previous is None or isinstance(previous, int)):
        return True
    return "[" in part or part[:1].isupper() or part in _SCALARS


_TAGS = STEP_TYPES | {"text", "image", "audio", "video", "document", "code_execution", "function"}
_SCALARS = frozenset({"str", "int", "float", "bool", "dict", "list", "none"})


def _check_options(body: CreateInteractionRequest) -> None:
    config = body.generation_config or InteractionGenerationConfig()
    for name in _REFUSED_CONFIG:
        if getattr(config, name) is not None:
            raise InvalidRequest(f"* generation_config.{name}: not supported; these models write text.")
    if config.max_output_tokens is not None and config.max_output_tokens < 1:
        raise InvalidRequest("* generation_config.max_output_tokens: must be positive.")
    unsupported = sorted(set(body.response_modalities or ()) - {"text", "TEXT"})
    if unsupported:
        raise InvalidRequest(f"* response_modalities: {', '.join(unsupported)} is not supported; text only.")
    if (body.response_mime_type or "text/plain") != "text/plain":
        raise InvalidRequest(
            f"* response_mime_type: {body.response_mime_type!r} is not supported; text/plain."
        )
    if body.previous_interaction_id is not None and not body.previous_interaction_id:
        raise InvalidRequest("* previous_interaction_id: empty.")


def _functions(body: CreateInteractionRequest) -> Functions | None:
    """The client's functions as the loop offers them, checked as generateContent's are."""
    declared = [tool for tool in body.tools or () if isinstance(tool, FunctionTool)]
    names = [tool.name for tool in declared]
    if not all(names):
        raise InvalidRequest("* tools: every function needs a name.")
    if len(set(names)) != len(names):
        raise InvalidRequest("* tools: function names must be unique.")
    config = body.generation_config or InteractionGenerationConfig()
    choice = config.tool_choice
    mode, allowed = (choice, None) if isinstance(choice, str) or choice is None else _allowed(choice)
    unknown = sorted(set(allowed or ()) - set(names) - {"code_execution"})
    if unknown:
        raise InvalidRequest(
            f"* generation_config.tool_choice.allowed_tools.tools: not declared: {', '.join(unknown)}."
        )
    declarations = [
        types.FunctionDeclaration(
            name=tool.name, description=tool.description, parameters_json_schema=tool.parameters
        )
        for tool in declared
    ]
    calling = types.FunctionCallingConfig(
        mode=_CALLING_MODES[mode or "auto"],
        allowed_function_names=[name for name in allowed if name in names] if allowed else None,
    )
    return Functions.from_request(
        [types.Tool(function_declarations=declarations)] if declarations else [],
        types.ToolConfig(function_calling_config=calling),
    )


def _allowed(choice: ToolChoiceConfig) -> tuple[str | None, list[str] | None]:
    allowed = choice.allowed_tools
    return (allowed.mode, allowed.tools) if allowed else (None, None)
