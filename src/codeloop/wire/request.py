"""The generateContent request: lenient body in, validated google.genai types out."""

from __future__ import annotations

import enum
import json
import types as pytypes
from collections.abc import Iterable
from inspect import isclass
from typing import Any, Self, TypeVar, Union, get_args, get_origin

import pydantic
from google.genai import types
from pydantic.alias_generators import to_camel

from codeloop.errors import InvalidRequest
from codeloop.loop.functions import Functions
from codeloop.loop.inputs import MAX_FILE_NAME
from codeloop.wire import lenient

_SUPPORTED_TOOLS = ("code_execution", "function_declarations")
_TEXT_MIME_TYPES = ("text/plain", "")

M = TypeVar("M", bound=pydantic.BaseModel)

# A part carries one of its oneof `data` fields; these only qualify it (a thought part's text, or
# its signature alone, is the exception).
_PART_QUALIFIERS = {
    "thought",
    "thought_signature",
    "part_metadata",
    "video_metadata",
    "media_resolution",
    "media_processing",
    "speech_metadata",
}
# Gemini's documented range for generationConfig.logprobs.
MAX_LOGPROBS = 20


class GenerationConfig(types.GenerationConfig):
    """types.GenerationConfig, and what the SDK's GenerateContentConfig sends inside generationConfig
    beyond it: imageConfig (as Google's REST API has it), and Vertex's modelConfig."""

    image_config: types.ImageConfig | None = None
    # The SDK's Vertex mode sends modelSelectionConfig under this name.
    vertex_model_config: types.ModelSelectionConfig | None = pydantic.Field(default=None, alias="modelConfig")


class GenerateContentRequest(pydantic.BaseModel):
    """The REST body of models.generateContent, shared by the Gemini API and Vertex AI.

    Unknown fields are rejected with a 400 naming them, as Google's endpoints do, so a
    misspelt field never silently changes what runs.
    """

    model_config = pydantic.ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", protected_namespaces=()
    )

    contents: list[types.Content] | None = None
    tools: list[types.Tool] | None = None
    tool_config: types.ToolConfig | None = None
    safety_settings: list[types.SafetySetting] | None = None
    system_instruction: types.Content | None = None
    generation_config: GenerationConfig | None = None
    cached_content: str | None = None
    labels: dict[str, str] | None = None
    model: str | None = None
    # What each of these does here: codeloop.wire.fields.
    service_tier: str | None = None
    store: bool | None = None
    continuation_token: bytes | None = None
    model_armor_config: types.ModelArmorConfig | None = None
    output_config: types.GenerationOutputConfig | None = None

    _functions: Functions | None = pydantic.PrivateAttr(default=None)

    @pydantic.model_validator(mode="after")
    def _checked(self) -> Self:
        self._functions = _check(self)
        return self

    @property
    def code_execution(self) -> bool:
        return any(tool.code_execution is not None for tool in self.tools or ())

    @property
    def functions(self) -> Functions | None:
        """The client's functions, built (so checked) once, as the body was validated."""
        return self._functions

    @property
    def config(self) -> GenerationConfig:
        return self.generation_config or GenerationConfig()


def parse_generate_request(body: bytes | str) -> GenerateContentRequest:
    """Parse and check a generateContent body; InvalidRequest says what is wrong and where."""
    data = lenient.loads(body)
    if not isinstance(data, dict):
        raise InvalidRequest("Invalid JSON payload received. The request body must be a JSON object.")
    return validate(GenerateContentRequest, data)


def validate(model: type[M], data: dict[str, Any]) -> M:
    """Validate JSON-shaped data, accepting a single value wherever a list is expected (as Google does)."""
    normalized = coerce_repeated(model, data)
    try:
        # Through JSON so that bytes fields (inlineData.data) are decoded from base64.
        return model.model_validate_json(json.dumps(normalized))
    except pydantic.ValidationError as exc:
        raise InvalidRequest(_describe(exc)) from None


def coerce_repeated(model: type[pydantic.BaseModel], data: Any) -> Any:
    """Wrap lone values in lists where the schema has a list (`"parts": {...}` means `[{...}]`)."""
    if not isinstance(data, dict):
        return data
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        fields[name] = info.annotation
        if info.alias:
            fields[info.alias] = info.annotation
    return {key: _coerce_value(fields[key], value) if key in fields else value for key, value in data.items()}


def _coerce_value(annotation: Any, value: Any) -> Any:
    if value is None and not _is_enum(annotation):
        return None
    annotation = _unwrap_optional(annotation)
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        items = value if isinstance(value, list) else [value]
        return [_coerce_value(item, v) for v in items]
    if get_origin(annotation) is dict and isinstance(value, dict):
        _, item = get_args(annotation)
        return {key: _coerce_value(item, v) for key, v in value.items()}
    if isclass(annotation) and issubclass(annotation, pydantic.BaseModel):
        return coerce_repeated(annotation, value)
    if _is_enum(annotation):
        _check_enum(annotation, value)
    return value


def _is_enum(annotation: Any) -> bool:
    return isclass(annotation) and issubclass(annotation, enum.Enum) and issubclass(annotation, str)


def _check_enum(annotation: type[enum.Enum], value: Any) -> None:
    """google-genai's enums take an unknown name with a warning and fail on a non-string (AttributeError):
    both are refused here, as Google refuses them."""
    if isinstance(value, str) and (
        value in annotation._value2member_map_
        or {value, value.upper(), value.lower()} & annotation.__members__.keys()
    ):
        return
    raise InvalidRequest(
        f"Invalid JSON payload received. Invalid value {json.dumps(value)}: not a {annotation.__name__}."
    )


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, pytypes.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _check_file_part(part: types.Part) -> None:
    """A file needs its type, a reference its URI, and a display name must fit a file name: it names
    the file in the working dir."""
    if part.inline_data is not None:
        if not part.inline_data.mime_type:
            raise InvalidRequest("* inlineData.mimeType: a file needs its mime type.")
        _check_display_name(part.inline_data.display_name, "inlineData")
    if part.file_data is not None:
        if not part.file_data.file_uri:
            raise InvalidRequest("* fileData.fileUri: required.")
        _check_display_name(part.file_data.display_name, "fileData")


def _check_display_name(display_name: str | None, part: str) -> None:
    if display_name is not None and len(display_name) > MAX_FILE_NAME:
        raise InvalidRequest(
            f"* {part}.displayName: at most {MAX_FILE_NAME} characters, as it names a file in the "
            f"working directory; this one has {len(display_name)}."
        )


def _check_functions(tools: Iterable[types.Tool], config: types.ToolConfig | None) -> None:
    """What loop.functions takes as given: names present and unique, allowed names declared (mode ANY)."""
    names = [d.name for tool in tools for d in tool.function_declarations or ()]
    calling = config.function_calling_config if config else None
    mode = (calling.mode if calling else None) or types.FunctionCallingConfigMode.AUTO
    if mode == types.FunctionCallingConfigMode.NONE or not names:
        return
    where = "* GenerateContentRequest.tools.function_declarations"
    if not all(names):
        raise InvalidRequest(f"{where}: every function needs a name.")
    if len(set(names)) != len(names):
        raise InvalidRequest(f"{where}: function names must be unique.")
    allowed = calling.allowed_function_names if calling else None
    if not allowed:
        return
    where = "* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names"
    if mode != types.FunctionCallingConfigMode.ANY:
        raise InvalidRequest(f"{where}: only allowed with mode ANY.")
    unknown = sorted(set(allowed) - set(names))
    if unknown:
        raise InvalidRequest(f"{where}: not declared: {', '.join(unknown)}.")


def _describe(exc: pydantic.ValidationError) -> str:
    messages = []
    for error in exc.errors(include_url=False)[:5]:
        path = _format_loc(error["loc"])
        if error["type"] == "extra_forbidden":
            parent, _, name = path.rpartition(".")
            where = f" at '{parent}'" if parent else ""
            messages.append(f'Unknown name "{name}"{where}: Cannot find field.')
        else:
            messages.append(f"Invalid value at '{path}': {error['msg']}.")
    return "Invalid JSON payload received. " + " ".join(messages)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "json-")):  # pydantic's union-branch markers
            out += f".{part}" if out else part
    return out


def _check(request: GenerateContentRequest) -> Functions | None:
    """What Google checks beyond the schema, and what codeloop cannot honour (said, never ignored);
    the client's functions, built as they are checked."""
    if not request.contents:
        raise InvalidRequest("* GenerateContentRequest.contents: contents is not specified")
    for i, content in enumerate(request.contents):
        if not content.parts:
            raise InvalidRequest(
                f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
            )
        for j, part in enumerate(content.parts):
            # A thought with no data (its signature alone) is what Gemini returns and clients replay.
            is_thought = part.thought or part.thought_signature is not None
            if not is_thought and not part.model_dump(exclude_none=True, exclude=_PART_QUALIFIERS):
                raise InvalidRequest(
                    f"* GenerateContentRequest.contents[{i}].parts[{j}].data: "
                    "required oneof field 'data' must have one initialized field"
                )
            _check_file_part(part)
    for i, tool in enumerate(request.tools or ()):
        unsupported = set(tool.model_dump(exclude_none=True)) - set(_SUPPORTED_TOOLS)
        if unsupported:
            raise InvalidRequest(
                f"* GenerateContentRequest.tools[{i}]: {', '.join(sorted(unsupported))} "
                "is not supported by this server; supported tools: codeExecution, functionDeclarations."
            )
    _check_functions(request.tools or (), request.tool_config)
    functions = Functions.from_request(request.tools or (), request.tool_config)
    if request.cached_content is not None:
        raise InvalidRequest(
            "* GenerateContentRequest.cached_content: this server keeps no context caches; "
            "send the cached contents in the request itself."
        )
    if request.continuation_token is not None:
        raise InvalidRequest(
            "* GenerateContentRequest.continuation_token: this server never stops a response with "
            "CONTINUATION, so there is no generation to continue."
        )
    _check_generation_config(request.config)
    return functions


def _check_generation_config(config: GenerationConfig) -> None:
    where = "* GenerateContentRequest.generation_config"
    if config.candidate_count is not None and config.candidate_count != 1:
        raise InvalidRequest(f"{where}.candidate_count: only 1 is supported.")
    if (config.response_mime_type or "") not in _TEXT_MIME_TYPES:
        raise InvalidRequest(
            f"{where}.response_mime_type: {config.response_mime_type!r} is not supported; this server's "
            "models answer in text/plain."
        )
    for name in ("response_schema", "response_json_schema"):
        if getattr(config, name) is not None:
            raise InvalidRequest(f"{where}.{name}: not supported; this server has no constrained decoding.")
    if config.max_output_tokens is not None and config.max_output_tokens < 1:
        raise InvalidRequest(f"{where}.max_output_tokens: must be positive.")
    asked = {str(getattr(m, "value", m)).upper() for m in config.response_modalities or ()}
    modalities = asked - {"TEXT", "MODALITY_UNSPECIFIED"}
    if modalities:
        raise InvalidRequest(
            f"{where}.response_modalities: this server's models answer in TEXT only, "
            f"not {', '.join(sorted(modalities))}."
        )
    for i, response_format in enumerate(config.response_format or ()):
        text = response_format.text
        if any(
            kind is not None for kind in (response_format.audio, response_format.image, response_format.video)
        ):
            raise InvalidRequest(f"{where}.response_format[{i}]: this server's models answer in text only.")
        if text is not None and (
            (text.mime_type or "") not in _TEXT_MIME_TYPES or text.jsonSchema is not None
        ):
            raise InvalidRequest(f"{where}.response_format[{i}].text: only text/plain is supported.")
    if config.logprobs is not None and not 0 <= config.logprobs <= MAX_LOGPROBS:
        raise InvalidRequest(f"{where}.logprobs: must be between 0 and {MAX_LOGPROBS}.")
