"""What today's Gemini clients replay: thought parts and thought signatures, and the ids that pair each
code block with its result and each function call with its response. Raw HTTP and the real SDK."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google import genai
from google.genai import types

from live import LiveServer

GENERATE = "/v1beta/models/scripted:generateContent"
CODE_TOOL = types.GenerateContentConfig(tools=[types.Tool(code_execution=types.ToolCodeExecution())])
TWO_BLOCKS = "```python\na = 6 * 7\n```\n```python\nprint(a)\n```"
SIGNATURE = b"\x00opaque signature\xff"

# A model turn as Gemini 2.5/3 return it: a thought with only its signature, a thought's text, and
# signatures on the text, the code and the call.
MODEL_TURN: dict[str, Any] = {
    "role": "model",
    "parts": [
        {"thought": True, "thoughtSignature": "c2lnbmF0dXJl"},
        {"text": "THOUGHT-TEXT", "thought": True},
        {"text": "Let me run it.", "thoughtSignature": "c2lnbmF0dXJl"},
        {
            "executableCode": {"id": "b1", "language": "PYTHON", "code": "print(1)"},
            "thoughtSignature": "c2ln",
        },
        {"codeExecutionResult": {"id": "b1", "outcome": "OUTCOME_OK", "output": "1\n"}},
        {"functionCall": {"id": "c1", "name": "lookup", "args": {}}, "thoughtSignature": "c2ln"},
    ],
}
LOOKUP = {"functionDeclarations": [{"name": "lookup", "description": "Looks something up."}]}


def post(live_server: LiveServer, body: dict, path: str = GENERATE) -> dict:
    with live_server.client() as http:
        response = http.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def text_of(body: dict) -> str:
    return "".join(part.get("text", "") for part in body["candidates"][0]["content"]["parts"])


def test_thought_parts_and_signatures_are_accepted_and_thoughts_stay_out_of_the_prompt(
    live_server: LiveServer,
) -> None:
    answer = {"role": "user", "parts": [{"functionResponse": {"id": "c1", "name": "lookup", "response": {}}}]}
    contents = [{"role": "user", "parts": [{"text": "hi"}]}, MODEL_TURN, answer]
    body = {"contents": contents, "tools": [LOOKUP]}
    post(live_server, body)
    without_thoughts = {**MODEL_TURN, "parts": [p for p in MODEL_TURN["parts"] if not p.get("thought")]}
    counted = post(live_server, body, "/v1beta/models/scripted:countTokens")
    plain = post(
        live_server,
        {**body, "contents": [contents[0], without_thoughts, answer]},
        "/v1beta/models/scripted:countTokens",
    )
    assert counted == plain


def test_a_users_thought_is_not_heard(live_server: LiveServer) -> None:
    parts = [{"text": "THOUGHT-TEXT ", "thought": True, "thoughtSignature": "c2ln"}, {"text": "hello"}]
    body = post(live_server, {"contents": {"role": "user", "parts": parts}})
    assert "You said: hello" in text_of(body) and "THOUGHT" not in text_of(body)


def test_the_sdk_replays_a_history_with_thoughts_and_signatures(gemini_client: genai.Client) -> None:
    history: list[types.Content | types.ContentDict] = [
        types.Content(role="user", parts=[types.Part(text="Compute something.")]),
        types.Content(
            role="model",
            parts=[
                types.Part(thought=True, thought_signature=SIGNATURE),
                types.Part(text="planning", thought=True),
                types.Part(text="Running it.", thought_signature=SIGNATURE),
                types.Part(
                    executable_code=types.ExecutableCode(
                        id="b1", language=types.Language.PYTHON, code="x = 1"
                    ),
                    thought_signature=SIGNATURE,
                ),
                types.Part(
                    code_execution_result=types.CodeExecutionResult(id="b1", outcome=types.Outcome.OUTCOME_OK)
                ),
                types.Part(text="Done.", thought_signature=SIGNATURE),
            ],
        ),
    ]
    chat = gemini_client.chats.create(model="scripted", config=CODE_TOOL, history=history)
    response = chat.send_message("```python\nprint('again')\n```")
    assert response.code_execution_result == "again\n"


def ids(parts: list[types.Part]) -> list[tuple[str, str | None]]:
    return [
        ("code", part.executable_code.id)
        if part.executable_code
        else ("result", part.code_execution_result.id)
        for part in parts
        if part.executable_code or part.code_execution_result
    ]


def check_pairs(pairs: list[tuple[str, str | None]]) -> None:
    assert [kind for kind, _ in pairs] == ["code", "result", "code", "result"]
    first, second = pairs[0][1], pairs[2][1]
    assert first and second and first != second
    assert pairs[1][1] == first and pairs[3][1] == second


def test_each_result_carries_its_codes_id(gemini_client: genai.Client) -> None:
    response = gemini_client.models.generate_content(model="scripted", contents=TWO_BLOCKS, config=CODE_TOOL)
    check_pairs(ids(response.candidates[0].content.parts))


def test_streamed_ids_pair_up_across_chunks(gemini_client: genai.Client) -> None:
    chunks = gemini_client.models.generate_content_stream(
        model="scripted", contents=TWO_BLOCKS, config=CODE_TOOL
    )
    check_pairs(ids([part for chunk in chunks for part in chunk.candidates[0].content.parts]))


def test_ids_differ_between_responses_and_survive_a_chat_replay(gemini_client: genai.Client) -> None:
    chat = gemini_client.chats.create(model="scripted", config=CODE_TOOL)
    first = ids(chat.send_message(TWO_BLOCKS).candidates[0].content.parts)
    second = chat.send_message("```python\nprint(2)\n```")
    assert second.code_execution_result == "2\n"
    (code, result) = ids(second.candidates[0].content.parts)
    assert code[1] == result[1] and code[1] not in {id for _, id in first}
    replayed = [part for content in chat.get_history() for part in content.parts or ()]
    assert [id for _, id in ids(replayed)] == [id for _, id in first] + [code[1], result[1]]


CALLS = [
    {"functionCall": {"id": "c1", "name": "weather", "args": {"city": "Paris"}}},
    {"functionCall": {"id": "c2", "name": "time", "args": {}}},
]
FUNCTIONS = {"functionDeclarations": [{"name": "weather"}, {"name": "time"}]}


@pytest.mark.parametrize("with_names", [True, False], ids=["named", "by id alone"])
def test_function_responses_are_matched_to_their_calls_by_id(
    live_server: LiveServer, with_names: bool
) -> None:
    responses = [
        {
            "functionResponse": {"id": "c2", "response": {"now": "noon"}}
            | ({"name": "time"} if with_names else {})
        },
        {
            "functionResponse": {"id": "c1", "response": {"celsius": 21}}
            | ({"name": "weather"} if with_names else {})
        },
    ]
    contents = [
        {"role": "user", "parts": {"text": "Weather and time?"}},
        {"role": "model", "parts": CALLS},
        {"role": "user", "parts": responses},
    ]
    answer = text_of(post(live_server, {"contents": contents, "tools": FUNCTIONS}))
    # The scripted model quotes the last result it was given: the response to the last call, c2.
    assert answer.endswith(json.dumps({"name": "time", "response": {"now": "noon"}}) + "\n")


def test_each_function_call_has_an_id_its_response_can_name(gemini_client: genai.Client) -> None:
    weather = types.FunctionDeclaration(name="weather", parameters_json_schema={"type": "object"})
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[weather])])
    question = types.Content(
        role="user",
        parts=[types.Part(text='<tool_call>\n{"name": "weather", "arguments": {}}\n</tool_call>')],
    )
    called = gemini_client.models.generate_content(model="scripted", contents=[question], config=config)
    (call,) = called.function_calls
    assert call.id
    reply = types.Part(
        function_response=types.FunctionResponse(id=call.id, name="weather", response={"sunny": True})
    )
    answered = gemini_client.models.generate_content(
        model="scripted",
        contents=[question, called.candidates[0].content, types.Content(role="user", parts=[reply])],
        config=config,
    )
    assert '"sunny": true' in answered.text
