"""interactions.create's body read: the four shapes of input, options refused with a reason, the client's
functions checked, and errors that name the field they are about."""

from __future__ import annotations

import json

import pytest

from codeloop.errors import InvalidRequest
from codeloop.wire.interactions.request import parse_create_request
from codeloop.wire.interactions.shapes import (
    CodeExecutionResultStep,
    MediaContent,
    TextContent,
    UserInputStep,
)


def parse(**body: object):
    return parse_create_request(json.dumps({"model": "m", **body}))


def refused(**body: object) -> str:
    with pytest.raises(InvalidRequest) as raised:
        parse(**body)
    return raised.value.message


def test_text_is_one_user_turn() -> None:
    (step,) = parse(input="Hi").input
    assert step == UserInputStep(content=[TextContent(text="Hi")])


def test_a_content_or_contents_are_one_user_turn() -> None:
    image = {"type": "image", "data": "aGk=", "mime_type": "image/png"}
    (one,) = parse(input=image).input
    (many,) = parse(input=[{"type": "text", "text": "Look"}, image]).input
    assert isinstance(one, UserInputStep) and one.content == [MediaContent(**image)]
    assert isinstance(many, UserInputStep) and [c.type for c in many.content] == ["text", "image"]


def test_steps_are_a_conversation() -> None:
    steps: list[dict] = [
        {"type": "user_input", "content": [{"type": "text", "text": "Hi"}]},
        {"type": "code_execution_call", "id": "c1", "arguments": {"code": "print(1)", "language": "python"}},
        {"type": "code_execution_result", "call_id": "c1", "result": "1\n"},
        {"type": "thought", "signature": "c2ln"},
    ]
    parsed = parse(input=steps).input
    assert [step.type for step in parsed] == [step["type"] for step in steps]
    assert isinstance(parsed[2], CodeExecutionResultStep) and parsed[2].result == "1\n"


def test_lenient_json_and_a_lone_tool() -> None:
    parsed = parse_create_request("{model: 'm', input: 'Hi', tools: {'type': 'code_execution'},}")
    assert parsed.code_execution and parsed.store and parsed.functions is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": "Hi", "temprature": 0.5}, 'Unknown name "temprature": Cannot find field.'),
        (
            {"input": "Hi", "generation_config": {"temprature": 0.5}},
            "Unknown name \"temprature\" at 'generation_config'",
        ),
        ({"input": [{"type": "text", "txt": "Hi"}]}, "Unknown name \"txt\" at 'input[0]'"),
        ({"input": {"type": "text"}}, "Invalid value at 'input.text': Field required"),
        ({"input": [{"type": "user_input", "content": [{"type": "pdf"}]}]}, "input[0].content[0]"),
        (
            {"input": [{"type": "google_search_call", "id": "1"}]},
            "'input[0]': Input tag 'google_search_call'",
        ),
        ({"input": "Hi", "tools": [{"type": "url_context"}]}, "'tools[0]': Input tag 'url_context'"),
        (
            {"input": "Hi", "generation_config": {"tool_choice": "sometimes"}},
            "Invalid value at 'generation_config.tool_choice': Input should be 'auto'",
        ),
        (
            {"input": [{"type": "code_execution_result", "call_id": "c", "result": 3}]},
            "Invalid value at 'input[0].result': Input should be a valid string",
        ),
        ({"input": 7}, "* input: text, a content"),
        ({"input": []}, "* input: required."),
        ({"model": "", "input": "Hi"}, "* model: required."),
        ({"input": "Hi", "continuation_token": "t"}, "never pauses decoding"),
        ({"input": "Hi", "environment": "e"}, "remote environments"),
        ({"input": "Hi", "response_format": {"type": "text"}}, "structured output"),
        ({"input": "Hi", "generation_config": {"speech_config": {}}}, "speech_config"),
        ({"input": "Hi", "response_mime_type": "application/json"}, "response_mime_type"),
        ({"input": "Hi", "background": True, "store": False}, "must be stored"),
        ({"input": "Hi", "previous_interaction_id": ""}, "previous_interaction_id"),
    ],
)
def test_refusals_say_where(body: dict, message: str) -> None:
    assert message in refused(**body)


WEATHER = {"type": "function", "name": "weather", "parameters": {"type": "object"}}
TIME = {"type": "function", "name": "time"}


def test_functions_with_a_tool_choice() -> None:
    parsed = parse(input="Hi", tools=[WEATHER, TIME])
    assert parsed.functions is not None and not parsed.functions.must_call
    assert [d.name for d in parsed.functions.declarations] == ["weather", "time"]
    assert parsed.functions.declarations[0].parameters_json_schema == {"type": "object"}
    forced = parse(input="Hi", tools=[WEATHER, TIME], generation_config={"tool_choice": "any"})
    assert forced.functions is not None and forced.functions.must_call
    assert parse(input="Hi", tools=[WEATHER], generation_config={"tool_choice": "none"}).functions is None
    only = parse(
        input="Hi",
        tools=[WEATHER, TIME, {"type": "code_execution"}],
        generation_config={
            "tool_choice": {"allowed_tools": {"mode": "any", "tools": ["time", "code_execution"]}}
        },
    )
    assert only.functions is not None and [d.name for d in only.functions.declarations] == ["time"]
    assert only.code_execution


@pytest.mark.parametrize(
    ("tools", "config", "message"),
    [
        ([{"type": "function"}], None, "every function needs a name"),
        ([WEATHER, WEATHER], None, "must be unique"),
        ([WEATHER], {"tool_choice": {"allowed_tools": {"tools": ["nope"]}}}, "not declared: nope"),
    ],
)
def test_functions_checked(tools: list, config: dict | None, message: str) -> None:
    assert message in refused(input="Hi", tools=tools, generation_config=config)


def test_sampling_options_are_kept() -> None:
    config = {"temperature": 0.2, "top_p": 0.9, "seed": 3, "stop_sequences": "END", "max_output_tokens": 9}
    parsed = parse(input="Hi", generation_config={**config, "thinking_level": "low"})
    assert parsed.config.stop_sequences == ["END"] and parsed.config.max_output_tokens == 9
    assert (parsed.config.temperature, parsed.config.top_p, parsed.config.seed) == (0.2, 0.9, 3)
