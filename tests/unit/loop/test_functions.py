"""Function calling: the offer in the prompt, the call blocks found in streamed text, the checks."""

from __future__ import annotations

import asyncio

import pytest
from google.genai import types

from codeloop.backends.scripted import ScriptedBackend
from codeloop.fences import Call, FenceSplitter, Text
from codeloop.loop.engine import Conversation, Engine
from codeloop.loop.events import Event, Finished, FunctionCall
from codeloop.loop.functions import BadCall, Functions

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="The weather in a city.",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={"city": types.Schema(type=types.Type.STRING)},
        required=["city"],
    ),
)
TIME = types.FunctionDeclaration(
    name="get_time", parameters_json_schema={"type": "object", "properties": {"tz": {"type": "string"}}}
)


def functions(mode: str | None = None, allowed: list[str] | None = None) -> Functions | None:
    config = types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode=mode, allowed_function_names=allowed)
    )
    return Functions.from_request([types.Tool(function_declarations=[WEATHER, TIME])], config)


def split(text: str, step: int = 1) -> list[Text | Call]:
    splitter = FenceSplitter(detect_code=True, detect_calls=True)
    pieces = []
    for i in range(0, len(text), step):
        pieces += splitter.feed(text[i : i + step])
    pieces += splitter.finish()
    return [p for p in pieces if not isinstance(p, Text) or p.text]  # type: ignore[misc]


@pytest.mark.parametrize("step", [1, 3, 1000])
def test_a_call_block_is_found_however_the_text_arrives(step: int) -> None:
    text = 'Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
    pieces = split(text, step)
    assert "".join(p.text for p in pieces if isinstance(p, Text)) == "Checking.\n"
    assert [p for p in pieces if isinstance(p, Call)] == [
        Call('{"name": "get_weather", "arguments": {"city": "Paris"}}')
    ]


def test_a_one_line_call_and_text_that_only_looks_like_one() -> None:
    assert split('<tool_call>{"name": "f"}</tool_call>\n') == [Call('{"name": "f"}')]
    mid_line = "a <tool_call> mid-line stays text\n"
    assert "".join(p.text for p in split(mid_line) if isinstance(p, Text)) == mid_line
    plain = FenceSplitter(detect_calls=False)
    assert plain.feed("<tool_call>{}</tool_call>\n") == [Text("<tool_call>{}</tool_call>\n")]


@pytest.mark.parametrize("step", [1, 1000])
def test_a_reply_that_is_only_a_calls_json_is_a_call(step: int) -> None:
    bare = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    assert split(bare, step) == [Call(bare)]
    assert split(bare + "\n", step) == [Call(bare)]
    for text in ('{"name": "Alice"} is json\n', f"Sure: {bare}\n", f"Sure.\n{bare}\n"):
        assert not any(isinstance(p, Call) for p in split(text, step)), text


def test_the_prompt_offers_each_function_as_json_schema() -> None:
    offer = functions()
    assert offer is not None
    prompt = offer.prompt()
    assert '"name": "get_weather"' in prompt and '"required": ["city"]' in prompt
    assert '"type": "string"' in prompt  # Google's STRING, as JSON schema
    assert "must answer by calling" not in prompt
    assert "must answer by calling" in (functions("ANY") or offer).prompt()


def test_modes_and_allowed_names() -> None:
    assert functions("NONE") is None
    only_time = functions("ANY", ["get_time"])
    assert only_time is not None and [d.name for d in only_time.declarations] == ["get_time"]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("not json", "not valid JSON"),
        ('["get_weather"]', "JSON object"),
        ('{"name": "get_wether", "arguments": {"city": "Paris"}}', "no function named 'get_wether'"),
        ('{"name": "get_weather", "arguments": {"town": "Paris"}}', "'city' is a required property"),
        ('{"name": "get_weather", "arguments": {"city": 3}}', "is not of type 'string'"),
        ('{"name": "get_weather", "arguments": [1]}', "must be a JSON object"),
    ],
)
def test_bad_calls_say_what_is_wrong(raw: str, error: str) -> None:
    offer = functions()
    assert offer is not None
    with pytest.raises(BadCall, match=error):
        offer.check(raw)


def test_good_calls() -> None:
    offer = functions()
    assert offer is not None
    assert offer.check('{"name": "get_weather", "arguments": {"city": "Paris"}}') == FunctionCall(
        "get_weather", {"city": "Paris"}
    )
    assert offer.check('{"name": "get_time"}') == FunctionCall("get_time", {})


def run(contents: list[types.Content], offer: Functions | None) -> list[Event]:
    conversation = Conversation.from_contents(contents, code_execution=False, functions=offer)
    engine = Engine(ScriptedBackend(), sandbox=None)  # no code runs

    async def collect() -> list[Event]:
        return [event async for event in engine.run(conversation)]

    return asyncio.run(collect())


CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'


def test_the_loop_ends_with_the_call_and_resumes_from_its_response() -> None:
    question = types.Content(role="user", parts=[types.Part(text=f"Weather?\n{CALL}")])
    events = run([question], functions())
    call_event = events[-2]
    assert isinstance(call_event, FunctionCall) and call_event.id
    assert call_event == FunctionCall("get_weather", {"city": "Paris"}, id=call_event.id)
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "STOP"
    assert events[-1].message is None

    call = types.Part(function_call=types.FunctionCall(name="get_weather", args={"city": "Paris"}))
    result = types.Part(function_response=types.FunctionResponse(name="get_weather", response={"temp": 21}))
    events = run(
        [question, types.Content(role="model", parts=[call]), types.Content(role="user", parts=[result])],
        functions(),
    )
    assert not any(isinstance(e, FunctionCall) for e in events)
    assert '"temp": 21' in "".join(getattr(e, "text", "") for e in events)


def test_without_functions_a_call_block_is_just_text() -> None:
    question = types.Content(role="user", parts=[types.Part(text=f"Weather?\n{CALL}")])
    events = run([question], None)
    assert not any(isinstance(e, FunctionCall) for e in events)


def test_a_model_that_keeps_calling_badly_gives_up() -> None:
    bad = '<tool_call>\n{"name": "nope"}\n</tool_call>\n'
    question = types.Content(role="user", parts=[types.Part(text=bad * 6)])
    events = run([question], functions())
    assert not any(isinstance(e, FunctionCall) for e in events)
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "MALFORMED_FUNCTION_CALL"
    assert events[-1].message and "no function named 'nope'" in events[-1].message
