"""The official google-genai SDK, unmodified, against a live codeloop server: Developer and Vertex modes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from google import genai
from google.genai import errors, types

from sdk import developer_client, vertex_client, vertex_express_client

CODE_TOOL = types.GenerateContentConfig(tools=[types.Tool(code_execution=types.ToolCodeExecution())])
SUM_PROMPT = "Add the first ten integers.\n```python\ntotal = sum(range(1, 11))\nprint(f'{total=}')\n```\n"


CLIENTS = {"developer": developer_client, "vertex": vertex_client, "vertex-express": vertex_express_client}


@pytest.fixture(params=list(CLIENTS))
def client(request: pytest.FixtureRequest, live_server) -> Iterator[genai.Client]:
    client = CLIENTS[request.param](live_server.url)
    yield client
    client.close()


def part_kinds(parts: list[types.Part]) -> list[str]:
    kinds = []
    for part in parts:
        dumped = part.model_dump(exclude_none=True, exclude={"part_metadata"})
        assert len(dumped) == 1, dumped
        kinds.append(next(iter(dumped)))
    return kinds


def test_generate_content_runs_the_code(client: genai.Client) -> None:
    response = client.models.generate_content(model="scripted", contents=SUM_PROMPT, config=CODE_TOOL)
    candidate = response.candidates[0]
    assert part_kinds(candidate.content.parts) == ["text", "executable_code", "code_execution_result", "text"]
    assert candidate.content.role == "model"
    assert candidate.finish_reason == types.FinishReason.STOP
    assert "total = sum(range(1, 11))" in response.executable_code
    assert response.code_execution_result == "total=55\n"
    assert candidate.content.parts[2].code_execution_result.outcome == types.Outcome.OUTCOME_OK
    assert "total=55" in candidate.content.parts[3].text
    usage = response.usage_metadata
    assert usage.prompt_token_count > 0 and usage.candidates_token_count > 0
    assert usage.tool_use_prompt_token_count > 0
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count + usage.tool_use_prompt_token_count
    )
    assert response.model_version == "scripted"
    assert response.response_id


def test_stream_sends_code_and_results_whole_and_text_in_pieces(client: genai.Client) -> None:
    chunks = list(
        client.models.generate_content_stream(model="scripted", contents=SUM_PROMPT, config=CODE_TOOL)
    )
    kinds = [part_kinds(chunk.candidates[0].content.parts) for chunk in chunks]
    assert ["executable_code"] in kinds and ["code_execution_result"] in kinds
    code_at = kinds.index(["executable_code"])
    assert kinds[code_at + 1] == ["code_execution_result"]
    assert kinds[:code_at] == [["text"]] * code_at and code_at > 1, "text before the code arrives in pieces"
    code = chunks[code_at].candidates[0].content.parts[0].executable_code
    assert code.code == "total = sum(range(1, 11))\nprint(f'{total=}')\n"
    result = chunks[code_at + 1].candidates[0].content.parts[0].code_execution_result
    assert (result.outcome, result.output) == (types.Outcome.OUTCOME_OK, "total=55\n")
    last = chunks[-1]
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata.total_token_count > 0
    assert all(chunk.candidates[0].finish_reason is None for chunk in chunks[:-1])
    assert len({chunk.response_id for chunk in chunks}) == 1
    final_text = "".join(chunk.text or "" for chunk in chunks[code_at + 2 :])
    assert "total=55" in final_text


def test_without_the_tool_nothing_runs(client: genai.Client) -> None:
    response = client.models.generate_content(model="scripted", contents=SUM_PROMPT)
    assert part_kinds(response.candidates[0].content.parts) == ["text"]
    assert response.executable_code is None
    assert "not enabled" in response.text


def test_chat_replays_the_code_trail(client: genai.Client) -> None:
    chat = client.chats.create(model="scripted", config=CODE_TOOL)
    first = chat.send_message("```python\nprint(6 * 7)\n```")
    assert first.code_execution_result == "42\n"
    second = chat.send_message("And now:\n```python\nprint('second turn')\n```")
    assert second.code_execution_result == "second turn\n"
    history = chat.get_history()
    assert [content.role for content in history] == ["user", "model", "user", "model"]
    assert "executable_code" in part_kinds(history[1].parts)
    assert "code_execution_result" in part_kinds(history[1].parts)


def test_async_stream(client: genai.Client) -> None:
    async def collect() -> list[types.GenerateContentResponse]:
        async with client.aio as aio:
            stream = await aio.models.generate_content_stream(
                model="scripted", contents=SUM_PROMPT, config=CODE_TOOL
            )
            return [chunk async for chunk in stream]

    chunks = asyncio.run(collect())
    assert any(chunk.code_execution_result == "total=55\n" for chunk in chunks)


def test_figure_comes_back_as_inline_png(client: genai.Client) -> None:
    prompt = "```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()\n```"
    response = client.models.generate_content(model="scripted", contents=prompt, config=CODE_TOOL)
    parts = response.candidates[0].content.parts
    kinds = part_kinds(parts)
    assert kinds[:4] == ["text", "executable_code", "code_execution_result", "inline_data"]
    image = parts[3].inline_data
    assert image.mime_type == "image/png"
    assert image.data.startswith(b"\x89PNG\r\n\x1a\n")


def test_a_failure_is_shown_and_the_loop_goes_on(client: genai.Client) -> None:
    prompt = "```python\nx = 1 / 0\n```\nthen\n```python\nx = 2\nprint(x)\n```"
    response = client.models.generate_content(model="scripted", contents=prompt, config=CODE_TOOL)
    results = [
        p.code_execution_result for p in response.candidates[0].content.parts if p.code_execution_result
    ]
    assert [r.outcome for r in results] == [types.Outcome.OUTCOME_FAILED, types.Outcome.OUTCOME_OK]
    assert "ZeroDivisionError: division by zero" in results[0].output
    assert results[1].output == "2\n"


def test_models_list_and_get(live_server) -> None:
    with developer_client(live_server.url) as client:
        names = [model.name for model in client.models.list()]
        model = client.models.get(model="scripted")
    assert "models/scripted" in names
    assert model.input_token_limit > 0 and model.output_token_limit > 0


def test_count_tokens(client: genai.Client) -> None:
    response = client.models.count_tokens(model="scripted", contents="one two three")
    assert response.total_tokens >= 3


def test_unknown_model_is_404(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as raised:
        client.models.generate_content(model="no-such-model", contents="hi")
    assert raised.value.code == 404
    assert raised.value.status == "NOT_FOUND"


def test_gemini_names_are_served_by_the_default_model(live_server) -> None:
    with developer_client(live_server.url) as client:
        response = client.models.generate_content(
            model="gemini-2.0-flash-001", contents=SUM_PROMPT, config=CODE_TOOL
        )
    assert response.code_execution_result == "total=55\n"
    assert response.model_version == "scripted"
