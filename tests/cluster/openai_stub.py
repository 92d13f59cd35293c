"""A scripted OpenAI-compatible model server, run by uvicorn as a process of its own: its first answer
to a conversation is a python block, its second (once the block's result is in the conversation) the
final text. Streams chat completions as llama.cpp's server and vLLM do.

    python -m uvicorn openai_stub:app --app-dir tests/cluster --port PORT
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

FIRST = "I will compute it.\n```python\nprint(6 * 7)\n```\n"
FINAL = "The answer is 42."


async def models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [{"id": "stub", "object": "model"}]})


async def chat_completions(request: Request) -> Response:
    body = await request.json()
    answered = any(message.get("role") == "assistant" for message in body.get("messages", []))
    text = FINAL if answered else FIRST

    async def events() -> AsyncIterator[bytes]:
        for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
            yield _event({"delta": {"content": piece}, "finish_reason": None})
        yield _event({"delta": {}, "finish_reason": "stop"})
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def _event(choice: dict) -> bytes:
    data = {"object": "chat.completion.chunk", "model": "stub", "choices": [{"index": 0, **choice}]}
    return f"data: {json.dumps(data)}\n\n".encode()


app = Starlette(
    routes=[
        Route("/v1/models", models),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    ]
)
