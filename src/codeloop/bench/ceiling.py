"""The ceiling `codeloop bench server` compares against: a bare FastAPI app that runs the block in-process.

No model, no loop, no sandbox, no limits: the endpoint takes the first ```python block of the request's text,
`exec`s it in the server's own interpreter with stdout captured, and answers with the parts codeloop would
send. Whatever codeloop's request path costs beyond this is its overhead. Run it in its own process:

    python -m uvicorn --factory codeloop.bench.ceiling:create_app --port 8081
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

from fastapi import FastAPI, Request

from codeloop.fences import find_code_blocks

__all__ = ["create_app"]


def create_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/v1beta/models/{model}:generateContent")
    async def generate(model: str, request: Request) -> dict[str, Any]:
        body = await request.json()
        text = body["contents"][0]["parts"][0]["text"]
        code = find_code_blocks(text)[0]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})  # the ceiling: no isolation
        parts = [
            {"executableCode": {"language": "PYTHON", "code": code}},
            {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": printed.getvalue()}},
            {"text": f"The block printed {printed.getvalue()}"},
        ]
        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        return {"candidates": [candidate], "modelVersion": model}

    return app
