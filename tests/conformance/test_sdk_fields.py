"""Every field of the pinned SDK's request types, found by introspection, set to a plausible value and
sent through the real SDK (Gemini Developer and Vertex AI) to a live server: the answer is a 400 naming
the field exactly where codeloop.wire.fields says the field is refused, and a 200 everywhere else.

A field the SDK gains in a new release has no decision in that table yet, and fails here until it has."""

from __future__ import annotations

import enum
import io
import types as pytypes
import typing
from collections.abc import Iterator
from inspect import isclass
from typing import Any

import pydantic
import pytest
from google import genai
from google.genai import errors, types

from codeloop.wire.fields import TABLES, Handling
from live import LiveServer
from sdk import developer_client, vertex_client

MODES = {"developer": developer_client, "vertex": vertex_client}
USER = types.Content(role="user", parts=[types.Part(text="Hello.")])
CODE = types.Tool(code_execution=types.ToolCodeExecution())
LOOKUP = types.Tool(function_declarations=[types.FunctionDeclaration(name="lookup", description="Looks up.")])

# Values where a generated one would not do: the SDK needs a shape, or the field is limited (the value
# here is one the server accepts; REFUSED_VALUES holds one it refuses).
VALUES: dict[tuple[str, str], Any] = {
    ("GenerateContentConfig", "http_options"): types.HttpOptions(headers={"x-conformance": "1"}),
    ("GenerateContentConfig", "system_instruction"): "Answer briefly.",
    ("GenerateContentConfig", "top_k"): 20,
    ("GenerateContentConfig", "max_output_tokens"): 64,
    ("GenerateContentConfig", "stop_sequences"): ["\n\n\n"],
    ("GenerateContentConfig", "logprobs"): 2,
    ("GenerateContentConfig", "response_mime_type"): "text/plain",
    ("GenerateContentConfig", "candidate_count"): 1,
    ("GenerateContentConfig", "response_modalities"): ["TEXT"],
    ("GenerateContentConfig", "tools"): [CODE, LOOKUP],
    ("GenerateContentConfig", "safety_settings"): [
        types.SafetySetting(
            category=types.HarmCategory.HARM_CATEGORY_HARASSMENT,
            threshold=types.HarmBlockThreshold.BLOCK_NONE,
        )
    ],
    ("GenerateContentConfig", "speech_config"): "Kore",
    ("GenerateContentConfig", "thinking_config"): types.ThinkingConfig(
        include_thoughts=True, thinking_budget=0
    ),
    ("GenerateContentConfig", "image_config"): types.ImageConfig(aspect_ratio="16:9"),
    ("GenerateContentConfig", "routing_config"): types.GenerationConfigRoutingConfig(
        auto_mode=types.GenerationConfigRoutingConfigAutoRoutingMode(model_routing_preference="BALANCED")
    ),
    ("GenerateContentConfig", "model_armor_config"): types.ModelArmorConfig(
        prompt_template_name="projects/p/locations/l/templates/t"
    ),
    ("GenerateContentConfig", "generation_output_config"): types.GenerationOutputConfig(
        output_uri_prefix="gs://bucket/prefix/"
    ),
    ("GenerateContentConfig", "automatic_function_calling"): types.AutomaticFunctionCallingConfig(
        disable=True
    ),
    ("GenerationConfig", "response_format"): [
        types.ResponseFormat(text=types.TextResponseFormat(mime_type="text/plain"))
    ],
    ("Tool", "function_declarations"): LOOKUP.function_declarations,
    ("Tool", "mcp_servers"): [types.McpServer(name="tools")],
    ("ToolConfig", "function_calling_config"): types.FunctionCallingConfig(
        mode=types.FunctionCallingConfigMode.AUTO
    ),
}
REFUSED_VALUES: dict[tuple[str, str], Any] = {
    ("GenerateContentConfig", "candidate_count"): 2,
    ("GenerateContentConfig", "logprobs"): 21,
    ("GenerateContentConfig", "response_mime_type"): "application/json",
    ("GenerateContentConfig", "response_modalities"): ["IMAGE"],
    ("GenerateContentConfig", "tools"): [types.Tool(google_search=types.GoogleSearch())],
    ("GenerateContentConfig", "cached_content"): "cachedContents/abc",
    ("GenerateContentConfig", "response_schema"): types.Schema(type=types.Type.STRING),
    ("GenerateContentConfig", "response_json_schema"): {"type": "string"},
    ("GenerationConfig", "response_format"): [types.ResponseFormat(audio=types.AudioResponseFormat())],
}

# A part with each field: the field alone where it is data, beside the data it qualifies where not.
# Each goes in the turn it belongs to; a function call is answered, so that the history is whole.
CALL = types.FunctionCall(id="c1", name="lookup", args={"q": "x"})
ANSWER = types.FunctionResponse(id="c1", name="lookup", response={"found": 1})
IMAGE = types.Blob(mime_type="image/png", data=b"\x89PNG\r\n\x1a\n")
VIDEO = types.Blob(mime_type="video/mp4", data=b"\x00\x00\x00\x18ftypmp42")
PARTS: dict[str, tuple[str, dict[str, Any]]] = {
    "text": ("user", {"text": "Hi."}),
    "inline_data": ("user", {"inline_data": types.Blob(mime_type="text/csv", data=b"a,b\n1,2\n")}),
    "function_call": ("model", {"function_call": CALL}),
    "function_response": ("user", {"function_response": ANSWER}),
    "executable_code": (
        "model",
        {"executable_code": types.ExecutableCode(id="b1", language=types.Language.PYTHON, code="print(1)")},
    ),
    "code_execution_result": (
        "model",
        {
            "code_execution_result": types.CodeExecutionResult(
                id="b1", outcome=types.Outcome.OUTCOME_OK, output="1\n"
            )
        },
    ),
    "thought": ("model", {"text": "Let me think.", "thought": True}),
    "thought_signature": ("model", {"thought_signature": b"opaque"}),
    "tool_call": (
        "model",
        {"tool_call": types.ToolCall(id="t1", tool_type=types.ToolType.GOOGLE_SEARCH_WEB, args={"q": "x"})},
    ),
    "tool_response": (
        "model",
        {
            "tool_response": types.ToolResponse(
                id="t1", tool_type=types.ToolType.GOOGLE_SEARCH_WEB, response={"n": 1}
            )
        },
    ),
    "part_metadata": ("user", {"text": "Hi.", "part_metadata": {"source": "notes.txt"}}),
    "video_metadata": ("user", {"inline_data": VIDEO, "video_metadata": types.VideoMetadata(fps=1.0)}),
    "media_processing": ("user", {"inline_data": VIDEO, "media_processing": types.MediaProcessing.STATIC}),
    "media_resolution": (
        "user",
        {
            "inline_data": IMAGE,
            "media_resolution": types.PartMediaResolution(
                level=types.PartMediaResolutionLevel.MEDIA_RESOLUTION_LOW
            ),
        },
    ),
    "speech_metadata": ("model", {"text": "Hi.", "speech_metadata": types.SpeechMetadata(speaker="A")}),
    "audio_transcription": (
        "user",
        {
            "inline_data": types.Blob(mime_type="audio/wav", data=b"RIFF"),
            "audio_transcription": types.Transcription(text="hi"),
        },
    ),
}


def plausible(annotation: Any) -> Any:
    """A value of the annotated type a client might send: for a field no table above knows yet."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return plausible(typing.get_args(annotation)[0])
    if origin in (typing.Union, pytypes.UnionType):
        return plausible(next(arg for arg in typing.get_args(annotation) if arg is not type(None)))
    if origin is list:
        return [plausible(typing.get_args(annotation)[0])] if typing.get_args(annotation) else []
    if origin is dict:
        return {"key": plausible(typing.get_args(annotation)[1])}
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is float:
        return 0.5
    if annotation is str:
        return "value"
    if annotation is bytes:
        return b"value"
    if isclass(annotation) and issubclass(annotation, enum.Enum):
        return next(member for member in annotation if not member.name.endswith("UNSPECIFIED"))
    if isclass(annotation) and issubclass(annotation, pydantic.BaseModel):
        return annotation()
    return "value"


def value_for(type_name: str, field: str, refused: bool = False) -> Any:
    chosen = REFUSED_VALUES if refused else VALUES
    if (type_name, field) in chosen:
        return chosen[(type_name, field)]
    model = getattr(types, type_name)
    return plausible(model.model_fields[field].annotation)


def request_for(
    type_name: str, field: str, value: Any, file_uri: str
) -> tuple[list[types.Content], types.GenerateContentConfig]:
    """The contents and config of a request that sets `field` of `type_name` to `value`."""
    if type_name == "GenerateContentConfig":
        return [USER], types.GenerateContentConfig(**{field: value})
    if type_name == "GenerationConfig":
        # Not in GenerateContentConfig: sent the way the SDK sends a field it does not know.
        options = types.HttpOptions(
            extra_body={"generationConfig": {field_alias(type_name, field): dumped(value)}}
        )
        return [USER], types.GenerateContentConfig(http_options=options)
    if type_name == "Tool":
        return [USER], types.GenerateContentConfig(tools=[types.Tool(**{field: value})])
    if type_name == "ToolConfig":
        return [USER], types.GenerateContentConfig(
            tools=[LOOKUP], tool_config=types.ToolConfig(**{field: value})
        )
    assert type_name == "Part"
    role, part = (
        PARTS[field] if field != "file_data" else ("user", {"file_data": types.FileData(file_uri=file_uri)})
    )
    contents = [USER, types.Content(role=role, parts=[types.Part(**part)])]
    if field == "function_call":
        contents.append(types.Content(role="user", parts=[types.Part(function_response=ANSWER)]))
    if field == "function_response":
        contents[1:1] = [types.Content(role="model", parts=[types.Part(function_call=CALL)])]
    if role == "model":
        contents.append(types.Content(role="user", parts=[types.Part(text="Go on.")]))
    return contents, types.GenerateContentConfig(tools=[CODE, LOOKUP])


def field_alias(type_name: str, field: str) -> str:
    info = getattr(types, type_name).model_fields[field]
    return info.alias or field


def dumped(value: Any) -> Any:
    if isinstance(value, list):
        return [dumped(item) for item in value]
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value.value if isinstance(value, enum.Enum) else value


def send(
    live_server: LiveServer, type_name: str, field: str, value: Any, file_uri: str = ""
) -> dict[str, Exception | None]:
    """What each API answered: None for a 200, the error for anything else; a mode whose SDK will not
    send the field (a Vertex-only field in Developer mode, say) is left out."""
    answers: dict[str, Exception | None] = {}
    for mode, make in MODES.items():
        contents, config = request_for(type_name, field, value, file_uri)
        client: genai.Client = make(live_server.url)
        try:
            client.models.generate_content(model="scripted", contents=contents, config=config)
            answers[mode] = None
        except ValueError as exc:
            if "only supported in" not in str(exc) and "not supported in" not in str(exc):
                raise
        except errors.APIError as exc:
            answers[mode] = exc
        finally:
            client.close()
    return answers


WALKED = ["GenerateContentConfig", "GenerationConfig", "Part", "Tool", "ToolConfig"]


def walked_fields() -> Iterator[tuple[str, str]]:
    for type_name in WALKED:
        for field in sdk_fields(type_name):
            yield type_name, field


def sdk_fields(type_name: str) -> list[str]:
    fields = list(getattr(types, type_name).model_fields)
    if type_name == "GenerationConfig":
        # Only what GenerateContentConfig lacks: the rest is walked there.
        fields = [f for f in fields if f not in types.GenerateContentConfig.model_fields]
    return fields


@pytest.mark.parametrize("type_name", list(TABLES))
def test_every_field_of_the_sdk_has_a_decision(type_name: str) -> None:
    undecided = set(sdk_fields(type_name)) - set(TABLES[type_name])
    assert not undecided, f"decide these {type_name} fields in codeloop.wire.fields: {sorted(undecided)}"
    assert not set(TABLES[type_name]) - set(sdk_fields(type_name)), "the table names a field the SDK lacks"


@pytest.fixture(scope="module")
def file_uri(live_server: LiveServer) -> str:
    """A file in the live server's Files API, for fileData to name."""
    with developer_client(live_server.url) as client:
        stored = client.files.upload(file=io.BytesIO(b"a,b\n1,2\n"), config={"mime_type": "text/csv"})
    assert stored.uri
    return stored.uri


@pytest.mark.parametrize(("type_name", "field"), list(walked_fields()), ids=lambda name: name)
def test_a_field_set_to_a_plausible_value(
    live_server: LiveServer, file_uri: str, type_name: str, field: str
) -> None:
    rule = TABLES[type_name].get(field)
    assert rule is not None, f"{type_name}.{field} has no decision in codeloop.wire.fields"
    refused = rule.handling == Handling.REFUSED
    answers = send(live_server, type_name, field, value_for(type_name, field, refused), file_uri)
    assert answers, f"neither API of the SDK sends {type_name}.{field}"
    for mode, error in answers.items():
        if refused:
            assert isinstance(error, errors.ClientError) and error.code == 400, (mode, error)
            assert field in error.message or rule.wire in error.message, (mode, error.message)
        else:
            assert error is None, (mode, error)


LIMITED = [
    (type_name, field)
    for type_name, field in walked_fields()
    if TABLES[type_name][field].handling == Handling.LIMITED
]


@pytest.mark.parametrize(("type_name", "field"), LIMITED, ids=lambda name: name)
def test_a_limited_field_beyond_its_limit_is_refused_by_name(
    live_server: LiveServer, type_name: str, field: str
) -> None:
    assert (type_name, field) in REFUSED_VALUES, f"give {type_name}.{field} a value beyond its limit"
    answers = send(live_server, type_name, field, REFUSED_VALUES[(type_name, field)])
    assert answers
    for mode, error in answers.items():
        assert isinstance(error, errors.ClientError) and error.code == 400, (mode, error)
        named = {field, TABLES[type_name][field].wire.rpartition(".")[2]}
        assert any(name in error.message for name in named), (mode, error.message)


def test_the_published_table_is_the_one_the_server_follows() -> None:
    from pathlib import Path

    from codeloop.wire import fields

    published = (Path(__file__).parents[2] / "docs" / "request-fields.md").read_text()
    assert fields.markdown().strip() in published, "regenerate docs/request-fields.md (see its first lines)"
