"""The loop's events written as steps and stream events: indices, pairing, files, and how a run ends."""

from __future__ import annotations

import itertools

from google.genai import interactions as sdk
from pydantic import TypeAdapter

from codeloop.execution import Execution, NamedFile, Outcome
from codeloop.loop.events import CodeBlock, CodeResult, Finished, FunctionCall, TextDelta, Usage
from codeloop.wire.interactions import events
from codeloop.wire.interactions.shapes import CodeExecutionResultStep, Interaction
from codeloop.wire.interactions.steps import StepWriter, timestamp
from codeloop.wire.response import LinkedFile, ReturnedResult

SDK_EVENT = TypeAdapter(sdk.InteractionSSEEvent)


def writer() -> StepWriter:
    counter = itertools.count(1)
    return StepWriter(first_index=1, new_id=lambda: f"id{next(counter)}")


def test_text_code_and_result_as_steps_and_events() -> None:
    w = writer()
    said = [
        *w.feed(TextDelta("Let me ")),
        *w.feed(TextDelta("")),
        *w.feed(TextDelta("compute.")),
        *w.feed(CodeBlock("print(2)")),
        *w.feed(CodeResult(Execution(Outcome.OUTCOME_OK, "2\n"))),
        *w.feed(TextDelta("Two.")),
        *w.close(),
    ]
    assert [(e["event_type"], e["index"]) for e in said] == [
        ("step.start", 1),
        ("step.delta", 1),
        ("step.delta", 1),
        ("step.stop", 1),
        ("step.start", 2),
        ("step.stop", 2),
        ("step.start", 3),
        ("step.stop", 3),
        ("step.start", 4),
        ("step.delta", 4),
        ("step.stop", 4),
    ]
    assert said[0]["step"] == {"type": "model_output", "content": []}
    assert said[4]["step"] == {
        "type": "code_execution_call",
        "id": "id1",
        "arguments": {"code": "print(2)", "language": "python"},
    }
    assert said[6]["step"] == {
        "type": "code_execution_result",
        "call_id": "id1",
        "result": "2\n",
        "is_error": False,
    }
    assert events.dump(w.steps[0]) == {
        "type": "model_output",
        "content": [{"type": "text", "text": "Let me compute."}],
    }
    for event in said:  # each one is an event of the SDK's union, none of them unknown to it
        assert not getattr(SDK_EVENT.validate_python(event), "is_unknown", False)


def test_a_failed_block_and_its_files() -> None:
    w = writer()
    w.feed(CodeBlock("plot()"))
    failed = Execution(Outcome.OUTCOME_DEADLINE_EXCEEDED, "timed out")
    files = (
        NamedFile("a.png", "image/png", b"\x89PNG"),
        LinkedFile("big.csv", "text/csv", "http://x/files/1"),
    )
    w.feed(ReturnedResult(failed, files, notes=("[c.bin (9 bytes) is not returned: no room]",)))
    result = w.steps[-1]
    assert isinstance(result, CodeExecutionResultStep) and result.is_error and result.call_id == "id1"
    text, image, document = events.dump(result)["result"]
    assert text == {"type": "text", "text": "timed out\n[c.bin (9 bytes) is not returned: no room]\n"}
    assert image == {"type": "image", "data": "iVBORw==", "mime_type": "image/png", "name": "a.png"}
    assert document == {
        "type": "document",
        "uri": "http://x/files/1",
        "mime_type": "text/csv",
        "name": "big.csv",
    }


def test_how_a_run_ends() -> None:
    usage = Usage(10, 5, 2)
    w = writer()
    assert w.ending(Finished("STOP", usage)).status == "completed"
    assert w.ending(Finished("STOP", usage)).usage.total_tokens == 17
    assert w.ending(Finished("MAX_TOKENS", usage)).status == "incomplete"
    malformed = w.ending(Finished("MALFORMED_FUNCTION_CALL", usage))
    assert malformed.status == "failed" and malformed.errors[0].code == "MALFORMED_FUNCTION_CALL"
    w.feed(FunctionCall("weather", {"city": "Oslo"}))
    assert w.steps[-1].model_dump() == {
        "type": "function_call",
        "id": "id1",
        "name": "weather",
        "arguments": {"city": "Oslo"},
    }
    assert w.ending(Finished("STOP", usage)).status == "requires_action"


def test_lifecycle_events_and_frames() -> None:
    from datetime import UTC, datetime

    now = timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert now == "2026-01-02T03:04:05Z"
    interaction = Interaction(id="v1_x", status="completed", model="m", created=now, updated=now, steps=[])
    created = events.created(interaction)
    assert created["interaction"] == {
        "object": "interaction",
        "id": "v1_x",
        "status": "completed",
        "model": "m",
        "created": now,
        "updated": now,
    }
    assert "steps" in events.completed(interaction)["interaction"]
    frame = events.sse_frame("7", events.step_stop(2)).decode()
    assert frame == 'event: step.stop\nid: 7\ndata: {"event_type":"step.stop","index":2,"event_id":"7"}\n\n'
