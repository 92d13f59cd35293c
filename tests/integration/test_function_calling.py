"""Function calling beside code execution, through the unmodified google-genai SDK: functionCall parts
to the client, functionResponse parts back, toolConfig honoured, the SDK's automatic calling."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import errors, types

from live import LiveServer
from sdk import developer_client

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="The current temperature in a city, in Celsius.",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={"city": types.Schema(type=types.Type.STRING)},
        required=["city"],
    ),
)
TOOLS = [types.Tool(function_declarations=[WEATHER]), types.Tool(code_execution=types.ToolCodeExecution())]
# The scripted model writes the blocks and calls of the question as its own.
QUESTION = (
    "How warm is Paris, in Fahrenheit?\n"
    "```python\nprint('warming up')\n```\n"
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
)


def test_a_call_goes_to_the_client_and_its_response_comes_back(gemini_client: genai.Client) -> None:
    config = types.GenerateContentConfig(tools=TOOLS)
    first = gemini_client.models.generate_content(model="scripted", contents=QUESTION, config=config)
    assert first.code_execution_result == "warming up\n"  # code ran first, on the server
    assert [(c.name, c.args) for c in first.function_calls] == [("get_weather", {"city": "Paris"})]
    assert first.candidates[0].finish_reason == types.FinishReason.STOP

    response = types.Part.from_function_response(name="get_weather", response={"celsius": 21})
    history = [
        types.Content(role="user", parts=[types.Part(text=QUESTION)]),
        first.candidates[0].content,
        types.Content(role="user", parts=[response]),
    ]
    final = gemini_client.models.generate_content(model="scripted", contents=history, config=config)
    assert not final.function_calls
    assert '"celsius": 21' in final.text


def test_the_sdk_calls_python_functions_automatically(live_server: LiveServer) -> None:
    calls = []

    def get_weather(city: str) -> dict[str, int]:
        """The current temperature in a city, in Celsius."""
        calls.append(city)
        return {"celsius": 21}

    with developer_client(live_server.url) as client:
        config = types.GenerateContentConfig(tools=[get_weather])
        question = QUESTION.split("```python")[0] + QUESTION.split("```\n")[-1]
        response = client.models.generate_content(model="scripted", contents=question, config=config)
    assert calls == ["Paris"]
    assert '"celsius": 21' in response.text
    assert [c.role for c in response.automatic_function_calling_history] == ["user", "model", "user"]


def test_a_streamed_call_arrives_whole(gemini_client: genai.Client) -> None:
    config = types.GenerateContentConfig(tools=TOOLS)
    chunks = list(
        gemini_client.models.generate_content_stream(model="scripted", contents=QUESTION, config=config)
    )
    calls = [call for chunk in chunks for call in chunk.function_calls or ()]
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]


def test_mode_none_offers_no_function(gemini_client: genai.Client) -> None:
    config = types.GenerateContentConfig(
        tools=TOOLS,
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode.NONE)
        ),
    )
    response = gemini_client.models.generate_content(model="scripted", contents=QUESTION, config=config)
    assert not response.function_calls
    assert "<tool_call>" in response.text  # the model's attempt stays text: nothing was offered


def test_a_call_the_declarations_do_not_allow_never_reaches_the_client(gemini_client: genai.Client) -> None:
    config = types.GenerateContentConfig(tools=TOOLS)
    bad = QUESTION.replace('"city": "Paris"', '"town": "Paris"')
    response = gemini_client.models.generate_content(model="scripted", contents=bad, config=config)
    assert not response.function_calls
    assert "'city' is a required property" in response.text  # what the model was told


def test_bad_tool_config_is_a_400(gemini_client: genai.Client) -> None:
    config = types.GenerateContentConfig(
        tools=TOOLS,
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(
                mode=types.FunctionCallingConfigMode.ANY, allowed_function_names=["get_time"]
            )
        ),
    )
    with pytest.raises(errors.ClientError) as refused:
        gemini_client.models.generate_content(model="scripted", contents=QUESTION, config=config)
    assert refused.value.code == 400 and "get_time" in refused.value.message
