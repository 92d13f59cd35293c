"""The Interactions API's part of /openapi.json: parameters, body and responses of routes that read their
requests by hand (lenient JSON, query flags), so FastAPI cannot infer them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from codeloop.server import openapi

InteractionId = Annotated[str, Path(description="The interaction's id, as create returned it.")]

_EVENTS = (
    "Server-Sent Events, each with its event_id (also the SSE id): interaction.created, then step.start, "
    "step.delta and step.stop per step, error on a failure, and interaction.completed last."
)
_INTERACTION = {"application/json": {"schema": openapi.ref("Interaction")}}

CREATE_BODY = {
    "required": True,
    "description": "Read leniently, as generateContent's is (single quotes, trailing commas, a lone value "
    "where a list is expected); snake_case, as the Interactions API is.",
    "content": {
        "application/json": {
            "schema": openapi.ref("CreateInteractionRequest"),
            "example": {
                "model": "gemini-2.5-flash",
                "input": "What is the sum of the first 50 primes? Use code.",
                "tools": [{"type": "code_execution"}],
            },
        }
    },
}
CREATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The interaction: completed (or requires_action, incomplete, failed); with "
        f"background=true at once, in_progress. With stream=true, {_EVENTS}",
        "content": {
            **_INTERACTION,
            "text/event-stream": openapi.event_stream("An interaction event as JSON."),
        },
    },
    **openapi.error_responses(400, 404, 409, 413, 503),
}

GET_PARAMETERS = [
    openapi.KEY_PARAMETER,
    {
        "name": "stream",
        "in": "query",
        "description": "true: the interaction's events from the start (or after last_event_id), followed "
        "while it runs.",
        "schema": {"type": "boolean"},
    },
    {
        "name": "last_event_id",
        "in": "query",
        "description": "With stream=true: resume after this event.",
        "schema": {"type": "string"},
    },
    {
        "name": "include_input",
        "in": "query",
        "description": "true: the interaction's input, as steps, in its input field.",
        "schema": {"type": "boolean"},
    },
]
GET_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": f"The interaction as it stands; with stream=true, {_EVENTS}",
        "content": {
            **_INTERACTION,
            "text/event-stream": openapi.event_stream("An interaction event as JSON."),
        },
    },
    **openapi.error_responses(400, 404),
}
CANCEL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The interaction: cancelled if it was running, else as it was.",
        "content": _INTERACTION,
    },
    **openapi.error_responses(404),
}
DELETE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Deleted (a running interaction is cancelled first).",
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": False}}},
    },
    **openapi.error_responses(404),
}
