"""The stream of an interaction: its events as the SDK's InteractionSSEEvent union names them, framed as SSE.

    interaction.created   the interaction, in_progress
    step.start            a step begins: whole for code, its result and function calls; empty for text
    step.delta            more text of the open model_output step
    step.stop             the step is complete
    error                 the run failed (then interaction.completed, status failed)
    interaction.completed the interaction's end, whatever its status, with its steps and usage

Each event carries its `event_id`, also sent as the SSE `id:`: a GET with `last_event_id` resumes
after it. `index` counts the interaction's steps, its input steps first.
"""

from __future__ import annotations

import json
from typing import Any

from codeloop.wire.interactions.shapes import Interaction, Step

EventBody = dict[str, Any]


def created(interaction: Interaction) -> EventBody:
    return {"event_type": "interaction.created", "interaction": _lifecycle(interaction, steps=False)}


def completed(interaction: Interaction) -> EventBody:
    return {"event_type": "interaction.completed", "interaction": _lifecycle(interaction, steps=True)}


def step_start(index: int, step: Step) -> EventBody:
    return {"event_type": "step.start", "index": index, "step": dump(step)}


def text_delta(index: int, text: str) -> EventBody:
    return {"event_type": "step.delta", "index": index, "delta": {"type": "text", "text": text}}


def step_stop(index: int) -> EventBody:
    return {"event_type": "step.stop", "index": index}


def error(code: str, message: str) -> EventBody:
    return {"event_type": "error", "error": {"code": code, "message": message}}


def dump(step: Step) -> dict[str, Any]:
    body: dict[str, Any] = step.model_dump(mode="json", exclude_none=True)
    return body


def render(interaction: Interaction) -> dict[str, Any]:
    body: dict[str, Any] = interaction.model_dump(mode="json", exclude_none=True)
    return body


def _lifecycle(interaction: Interaction, steps: bool) -> dict[str, Any]:
    """The partial interaction lifecycle events carry (InteractionSseEventInteraction)."""
    body = render(interaction)
    kept = {"id", "status", "model", "created", "updated", "usage", *(["steps"] if steps else [])}
    return {"object": "interaction", **{key: value for key, value in body.items() if key in kept}}


def sse_frame(event_id: str, event: EventBody) -> bytes:
    data = json.dumps({**event, "event_id": event_id}, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event['event_type']}\nid: {event_id}\ndata: {data}\n\n".encode()
