"""The Interactions API with code execution: google-genai's `client.interactions`, unmodified, against a
live server and the scripted model, which runs the ```python blocks it is sent."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import _interactions, types
from google.genai import interactions as it

from codeloop.settings import Settings
from live import LiveServer, serving, wait_until

CODE = [{"type": "code_execution"}]


def python(code: str) -> str:
    return f"Run this.\n```python\n{code}\n```\n"


@pytest.fixture(scope="module", params=[False, True], ids=["in-process", "shared-data-dir"])
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """The same API whether records live in the process or on disk for several servers to share."""
    settings = Settings(
        model="scripted",
        exec_timeout=30,
        data_dir=tmp_path_factory.mktemp("interactions"),
        shared_data_dir=request.param,
    )
    with serving(settings) as server:
        yield server


@pytest.fixture
def interactions(server: LiveServer) -> Iterator[Any]:
    """client.interactions, no retries; read as Any, its results' unions being wider than a test reads."""
    options = types.HttpOptions(base_url=server.url, retry_options=types.HttpRetryOptions(attempts=1))
    with genai.Client(api_key="test-key", http_options=options) as client:
        yield client.interactions


def step_of(interaction: Any, kind: str) -> Any:
    """The interaction's first step of that kind."""
    return next(step for step in interaction.steps if step.type == kind)


def kinds(interaction: Any) -> list[str]:
    return [step.type for step in interaction.steps or ()]


def test_code_execution_comes_back_as_paired_call_and_result_steps(interactions: Any) -> None:
    interaction = interactions.create(
        model="scripted", input=python("total = sum(range(1, 11))\nprint(f'{total=}')"), tools=CODE
    )
    assert interaction.status == "completed"
    assert interaction.id and interaction.model == "scripted"
    assert kinds(interaction) == [
        "user_input",
        "model_output",
        "code_execution_call",
        "code_execution_result",
        "model_output",
    ]
    _, _, call, result, _ = interaction.steps
    assert isinstance(call, it.CodeExecutionCallStep) and isinstance(result, it.CodeExecutionResultStep)
    assert call.arguments.code == "total = sum(range(1, 11))\nprint(f'{total=}')\n"
    assert call.arguments.language == "python"
    assert result.call_id == call.id and result.result == "total=55\n" and result.is_error is False
    assert "total=55" in interaction.output_text
    usage = interaction.usage
    assert usage.total_input_tokens > 0 and usage.total_output_tokens > 0 and usage.total_tool_use_tokens > 0
    assert usage.total_tokens == (
        usage.total_input_tokens + usage.total_output_tokens + usage.total_tool_use_tokens
    )
    again = interactions.get(interaction.id)
    sdk_added = {"usage", "continuation_ids"}  # the SDK merges continuation hops into a create's answer
    assert again.model_dump(exclude=sdk_added) == interaction.model_dump(exclude=sdk_added)


def test_failing_code_is_an_error_result_not_a_failed_interaction(interactions: Any) -> None:
    interaction = interactions.create(model="scripted", input=python("1 / 0"), tools=CODE)
    result = step_of(interaction, "code_execution_result")
    assert result.is_error is True and "ZeroDivisionError" in result.result
    assert interaction.status == "completed"


def test_without_the_tool_nothing_runs(interactions: Any) -> None:
    interaction = interactions.create(model="scripted", input=python("print(1)"))
    assert kinds(interaction) == ["user_input", "model_output"]


def test_a_stream_tells_each_step_as_it_happens(interactions: Any) -> None:
    stream = interactions.create(model="scripted", input=python("print(6 * 7)"), tools=CODE, stream=True)
    events = list(stream)
    assert not any(getattr(event, "is_unknown", False) for event in events)
    types_seen = [event.event_type for event in events]
    assert types_seen[0] == "interaction.created" and types_seen[-1] == "interaction.completed"
    assert events[0].interaction.status == "in_progress"
    assert [event.event_id for event in events] == [str(n) for n in range(1, len(events) + 1)]
    starts = {event.index: event.step for event in events if isinstance(event, it.StepStart)}
    call = next(step for step in starts.values() if isinstance(step, it.CodeExecutionCallStep))
    result = next(step for step in starts.values() if isinstance(step, it.CodeExecutionResultStep))
    assert call.arguments.code == "print(6 * 7)\n" and result.call_id == call.id and result.result == "42\n"
    stops = [event.index for event in events if isinstance(event, it.StepStop)]
    assert sorted(stops) == sorted(starts) == list(range(1, len(starts) + 1))  # index 0: the input
    text_index = min(starts)
    streamed = "".join(e.delta.text for e in events if e.event_type == "step.delta" and e.index == text_index)
    completed = events[-1].interaction
    assert completed.status == "completed" and completed.usage.total_tokens > 0
    assert completed.steps[text_index].content[0].text == streamed == "Running the code.\n"
    assert len([e for e in events if isinstance(e, it.StepDelta)]) > 2, "text arrives in pieces"


def test_a_continued_conversation_keeps_its_interpreter(interactions: Any) -> None:
    first = interactions.create(model="scripted", input=python("x = 42"), tools=CODE)
    second = interactions.create(
        model="scripted", input=python("print(x)"), tools=CODE, previous_interaction_id=first.id
    )
    assert second.previous_interaction_id == first.id
    result = step_of(second, "code_execution_result")
    assert result.result == "42\n"
    # The conversation goes on, streamed, from the second turn; a fresh one knows no x.
    events = list(
        interactions.create(
            model="scripted",
            input=python("print(x + 1)"),
            tools=CODE,
            previous_interaction_id=second.id,
            stream=True,
        )
    )
    assert any(isinstance(e, it.StepStart) and getattr(e.step, "result", None) == "43\n" for e in events)
    fresh = interactions.create(model="scripted", input=python("print(x)"), tools=CODE)
    assert "NameError" in step_of(fresh, "code_execution_result").result


def test_a_stateless_client_sends_the_conversation_back(interactions: Any) -> None:
    first = interactions.create(model="scripted", input=python("print(1)"), tools=CODE, store=False)
    with pytest.raises(_interactions.NotFoundError):
        interactions.get(first.id)
    turn = {"type": "user_input", "content": [{"type": "text", "text": "What did the code print?"}]}
    second = interactions.create(model="scripted", input=[*first.steps, turn], tools=CODE, store=False)
    assert second.status == "completed"
    assert second.output_text.startswith("You said: What did the code print?")


def test_background_returns_at_once_and_polling_finds_it_done(interactions: Any) -> None:
    started = time.monotonic()
    interaction = interactions.create(
        model="scripted",
        input=python("import time\ntime.sleep(1.5)\nprint('done')"),
        tools=CODE,
        background=True,
    )
    assert time.monotonic() - started < 1.5
    assert interaction.status == "in_progress" and kinds(interaction)[0] == "user_input"
    assert "code_execution_result" not in kinds(interaction)
    assert wait_until(lambda: interactions.get(interaction.id).status == "completed", timeout=30)
    done = interactions.get(interaction.id)
    assert step_of(done, "code_execution_result").result == "done\n"


def test_cancel_stops_a_background_interaction_and_keeps_its_steps(interactions: Any) -> None:
    interaction = interactions.create(
        model="scripted", input=python("import time\ntime.sleep(25)"), tools=CODE, background=True
    )
    assert wait_until(lambda: "code_execution_call" in kinds(interactions.get(interaction.id)))
    started = time.monotonic()
    cancelled = interactions.cancel(interaction.id)
    assert time.monotonic() - started < 5
    assert cancelled.status == "cancelled"
    assert kinds(cancelled) == ["user_input", "model_output", "code_execution_call"]
    assert interactions.get(interaction.id).status == "cancelled"
    assert interactions.cancel(interaction.id).status == "cancelled"  # cancelling again: as it is
    # The conversation's interpreter was stopped mid-block: the next turn gets a fresh one, and says so.
    after = interactions.create(
        model="scripted", input=python("print('again')"), tools=CODE, previous_interaction_id=interaction.id
    )
    assert step_of(after, "code_execution_result").result.endswith("again\n")


def test_a_dropped_stream_resumes_after_the_last_event_seen(interactions: Any) -> None:
    stream = interactions.create(
        model="scripted",
        input=python("import time\ntime.sleep(1)\nprint('resumed')"),
        tools=CODE,
        stream=True,
        background=True,
    )
    seen = []
    for event in stream:
        seen.append(event)
        if isinstance(event, it.StepStart) and isinstance(event.step, it.CodeExecutionCallStep):
            break
    stream.close()
    interaction_id = seen[0].interaction.id
    rest = list(interactions.get(interaction_id, stream=True, last_event_id=seen[-1].event_id))
    assert rest[0].event_id == str(int(seen[-1].event_id) + 1)
    assert rest[-1].event_type == "interaction.completed" and rest[-1].interaction.status == "completed"
    whole = list(interactions.get(interaction_id, stream=True))
    dump = [event.model_dump() for event in whole]
    assert dump == [event.model_dump() for event in seen] + [event.model_dump() for event in rest]


def test_delete_then_it_is_gone(interactions: Any) -> None:
    interaction = interactions.create(model="scripted", input="Hello")
    interactions.delete(interaction.id)
    with pytest.raises(_interactions.NotFoundError):
        interactions.get(interaction.id)
    with pytest.raises(_interactions.NotFoundError):
        interactions.delete(interaction.id)
    with pytest.raises(_interactions.NotFoundError):
        interactions.create(model="scripted", input="Hi", previous_interaction_id=interaction.id)


def test_include_input_returns_the_input_as_steps(interactions: Any) -> None:
    interaction = interactions.create(model="scripted", input="Hello")
    assert interactions.get(interaction.id).input is None
    got = interactions.get(interaction.id, include_input=True)
    assert got.input[0].type == "user_input" and got.input[0].content[0].text == "Hello"


def test_a_function_call_waits_for_its_result(interactions: Any) -> None:
    weather = {
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    question = (
        'Weather?\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
    )
    called = interactions.create(model="scripted", input=question, tools=[weather])
    assert called.status == "requires_action"
    call = called.steps[-1]
    assert isinstance(call, it.FunctionCallStep)
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"}) and call.id
    answered = interactions.create(
        model="scripted",
        input=[{"type": "function_result", "call_id": call.id, "result": {"celsius": 21}}],
        tools=[weather],
        previous_interaction_id=called.id,
    )
    assert answered.status == "completed" and '"celsius": 21' in answered.output_text


def test_files_go_in_and_come_back(interactions: Any) -> None:
    data = base64.b64encode(b"a,b\n1,2\n3,4\n").decode()
    code = (
        "import pandas as pd\nimport matplotlib.pyplot as plt\n"
        "frame = pd.read_csv('input_file_0.csv')\nprint(frame['b'].sum())\n"
        "frame.plot()\nplt.savefig('plot.png')\n"
    )
    interaction = interactions.create(
        model="scripted",
        input=[
            {"type": "document", "data": data, "mime_type": "text/csv"},
            {"type": "text", "text": python(code)},
        ],
        tools=CODE,
    )
    result = step_of(interaction, "code_execution_result")
    text, *files = result.result
    assert text.type == "text" and text.text == "6\n"
    # The file the code saved, beside the figure it drew (shown, as Gemini shows it).
    (saved,) = [file for file in files if file.model_dump().get("name") == "plot.png"]
    assert saved.type == "image" and saved.mime_type == "image/png"
    assert base64.b64decode(saved.data).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"input": "Hi"}, "model"),
        ({"model": "scripted"}, "input"),
        ({"model": "scripted", "input": "Hi", "temprature": 1}, 'Unknown name "temprature"'),
        ({"model": "scripted", "input": "Hi", "tools": [{"type": "google_search"}]}, "tools[0]"),
        ({"model": "scripted", "input": "Hi", "agent": "deep-research"}, "agents"),
        ({"model": "scripted", "input": [{"type": "google_search_call", "id": "1"}]}, "input[0]"),
        (
            {"model": "scripted", "input": [{"type": "image", "data": "%%%", "mime_type": "image/png"}]},
            "base64",
        ),
        ({"model": "scripted", "input": {"type": "text"}}, "input.text"),
        ({"model": "scripted", "input": "Hi", "background": True, "store": False}, "background"),
        ({"model": "scripted", "input": "Hi", "generation_config": {"max_output_tokens": 0}}, "max_output"),
        ({"model": "scripted", "input": "Hi", "response_modalities": ["image"]}, "image"),
        (
            {"model": "scripted", "input": [{"type": "function_result", "call_id": "x", "result": "r"}]},
            "call_id",
        ),
    ],
)
def test_bad_bodies_are_400_in_googles_shape(server: LiveServer, body: dict, words: str) -> None:
    response = httpx.post(f"{server.url}/v1beta/interactions", json=body, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    assert words in error["message"]


def test_other_refusals_in_googles_shape(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("/v1beta/interactions", content=b"{not json").status_code == 400
        unknown_model = http.post("/v1beta/interactions", json={"model": "nope", "input": "Hi"})
        assert unknown_model.status_code == 404 and unknown_model.json()["error"]["status"] == "NOT_FOUND"
        made = http.post("/v1beta/interactions", json={"model": "scripted", "input": "Hi"}).json()
        without_stream = http.get(f"/v1beta/interactions/{made['id']}", params={"last_event_id": "1"})
        assert without_stream.status_code == 400
        unknown_event = http.get(
            f"/v1beta/interactions/{made['id']}", params={"stream": "true", "last_event_id": "999"}
        )
        assert unknown_event.status_code == 400
        assert http.get(f"/v1beta/interactions/{made['id']}", params={"stream": "maybe"}).status_code == 400
        assert http.get("/v1beta/interactions/..%2F..%2Fetc").status_code == 404
        assert http.get("/v9/interactions/x").status_code == 404


def test_a_conversation_runs_one_turn_at_a_time(interactions: Any, server: LiveServer) -> None:
    first = interactions.create(
        model="scripted", input=python("import time\ntime.sleep(2)"), tools=CODE, background=True
    )
    with httpx.Client(base_url=server.url, timeout=30) as http:
        body = {"model": "scripted", "input": "Next", "previous_interaction_id": first.id, "tools": CODE}
        busy = http.post("/v1beta/interactions", json=body)
        assert busy.status_code == 409 and busy.json()["error"]["status"] == "ABORTED"
    assert wait_until(lambda: interactions.get(first.id).status == "completed", timeout=30)
    assert interactions.create(model="scripted", input="Next", previous_interaction_id=first.id)


def test_the_interactions_api_is_documented(server: LiveServer) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    paths = document["paths"]
    create = paths["/{version}/interactions"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateInteractionRequest"
    }
    assert set(create["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    get = paths["/{version}/interactions/{interaction_id}"]["get"]
    assert {"stream", "last_event_id", "include_input", "interaction_id"} <= {
        p["name"] for p in get["parameters"]
    }
    assert "delete" in paths["/{version}/interactions/{interaction_id}"]
    assert "post" in paths["/{version}/interactions/{interaction_id}/cancel"]
    for operation in (create, get):
        assert {"400", "401", "403", "404", "429", "500"} <= set(operation["responses"])
    schemas = document["components"]["schemas"]
    assert {"input", "tools", "previous_interaction_id", "store", "stream", "background"} <= set(
        schemas["CreateInteractionRequest"]["properties"]
    )
    assert {"id", "status", "steps", "usage"} <= set(schemas["Interaction"]["properties"])
