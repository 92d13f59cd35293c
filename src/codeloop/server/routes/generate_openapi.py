"""generateContent's part of /openapi.json: the parameters, body and responses of a route that reads
its request by hand (lenient JSON), so FastAPI cannot infer them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from codeloop.server import live_output, openapi, sessions

METHODS = ("generateContent", "streamGenerateContent", "countTokens")
Method = Annotated[
    str, Path(description="What to do with the body.", json_schema_extra={"enum": list(METHODS)})
]

PARAMETERS = [
    {
        "name": "alt",
        "in": "query",
        "description": "streamGenerateContent: sse for Server-Sent Events; otherwise a JSON array.",
        "schema": {"type": "string", "enum": ["json", "sse"]},
    },
    {
        "name": live_output.PARAMETER,
        "in": "query",
        "description": "streamGenerateContent: true sends a running block's output as it is printed, each "
        "piece a chunk whose one part is a codeExecutionResult with the block's id and no outcome; the "
        "whole result still follows. Any other value, or none, is no. As the header of that name.",
        "schema": {"type": "string"},
    },
    {
        "name": live_output.HEADER,
        "in": "header",
        "description": f"true: as the {live_output.PARAMETER} query parameter.",
        "schema": {"type": "string"},
    },
    {
        "name": sessions.HEADER,
        "in": "header",
        "description": "new keeps the request's interpreter for later requests; its id continues it.",
        "schema": {"type": "string"},
    },
]
REQUEST_BODY = {
    "required": True,
    "description": "Read leniently, as Google does: single quotes, trailing commas, snake_case names, "
    "and a lone value where a list is expected.",
    "content": {
        "application/json": {
            "schema": openapi.ref("GenerateContentRequest"),
            "example": {
                "contents": [{"role": "user", "parts": [{"text": "Sum the first 50 primes, with code."}]}],
                "tools": [{"codeExecution": {}}],
            },
        }
    },
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "generateContent: a GenerateContentResponse. streamGenerateContent: a JSON array "
        "of them, written as it grows, or with alt=sse one `data:` event each; a failure after the first "
        "chunk ends the stream with an error chunk. countTokens: the prompt's token count.",
        "headers": {sessions.HEADER: {"description": "The kept session's id.", "schema": {"type": "string"}}},
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        openapi.ref("GenerateContentResponse"),
                        {
                            "type": "array",
                            "items": {
                                "anyOf": [
                                    openapi.ref("GenerateContentResponse"),
                                    openapi.ref("ErrorResponse"),
                                ]
                            },
                        },
                        openapi.ref("CountTokensResponse"),
                    ]
                }
            },
            "text/event-stream": openapi.event_stream(
                "A GenerateContentResponse, or an ErrorResponse, as JSON."
            ),
        },
    },
    **openapi.error_responses(400, 404, 409, 413, 503),
}
