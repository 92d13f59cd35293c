"""generateContent, streamGenerateContent and countTokens, on the Gemini API's and Vertex AI's paths."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from codeloop.backends.base import Sampling
from codeloop.errors import CodeloopError, NotFound
from codeloop.files.store import FileStore
from codeloop.loop import prompts
from codeloop.loop.engine import Conversation
from codeloop.loop.events import Finished, TextDelta
from codeloop.loop.inputs import FetchedFile, FetchFile
from codeloop.server import live_output, openapi, sessions
from codeloop.server.access import owner_of
from codeloop.server.body import read_body
from codeloop.server.generated_files import GeneratedFiles, InlineBudget, publisher
from codeloop.server.handlers import internal_error_message
from codeloop.server.logs import current_request_id
from codeloop.server.routes import generate_openapi
from codeloop.server.runtime import runtime_of
from codeloop.server.telemetry import Telemetry
from codeloop.wire.errors import error_body, error_body_for
from codeloop.wire.request import GenerateContentRequest, parse_generate_request
from codeloop.wire.response import ResponseWriter, Returned
from codeloop.wire.stream import json_array, sse

log = logging.getLogger("codeloop.server")
router = APIRouter()

MODEL_PATHS = (
    "/{version}/models/{model}:{method}",
    "/{version}/publishers/google/models/{model}:{method}",
    "/{version}/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}",
)


async def model_method(
    request: Request, version: openapi.Version, model: openapi.ModelName, method: generate_openapi.Method
) -> Response:
    openapi.check_version(request, version)
    runtime = runtime_of(request)
    name = runtime.registry.canonical(model)
    if method == "generateContent":
        return await _generate(request, name, stream=False)
    if method == "streamGenerateContent":
        return await _generate(request, name, stream=True)
    if method == "countTokens":
        return await _count_tokens(request, name)
    raise NotFound(f"Method {method} is not found for models/{model}.")


for _path in MODEL_PATHS:
    router.add_api_route(
        _path,
        model_method,
        methods=["POST"],
        summary="generateContent, streamGenerateContent or countTokens",
        responses=generate_openapi.RESPONSES,
        openapi_extra={
            "parameters": [
                *openapi.vertex_parameters(_path),
                openapi.KEY_PARAMETER,
                *generate_openapi.PARAMETERS,
            ],
            "requestBody": generate_openapi.REQUEST_BODY,
        },
    )


def conversation_for(
    request: GenerateContentRequest, fetch: FetchFile | None = None, max_file_bytes: int | None = None
) -> Conversation:
    config = request.config
    sampling = Sampling(
        temperature=config.temperature,
        top_p=config.top_p,
        top_k=int(config.top_k) if config.top_k is not None else None,
        max_tokens=config.max_output_tokens,
        stop=tuple(config.stop_sequences or ()),
        seed=config.seed,
        presence_penalty=config.presence_penalty,
        frequency_penalty=config.frequency_penalty,
        logprobs=(config.logprobs or 0) if config.response_logprobs else None,
    )
    return Conversation.from_contents(
        request.contents or [],
        system_instruction=prompts.content_text(request.system_instruction) or None,
        code_execution=request.code_execution,
        sampling=sampling,
        fetch=fetch,
        max_file_bytes=max_file_bytes,
        functions=request.functions,
    )


def _fetcher(files: FileStore, owner: str) -> FetchFile:
    def fetch(uri: str) -> FetchedFile:
        stored = files.get(owner, uri)
        return FetchedFile(files.read(owner, uri), stored.mime_type, stored.display_name)

    return fetch


async def _generate(request: Request, model: str, stream: bool) -> Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    body = parse_generate_request(await read_body(request, settings.max_request_bytes))
    owner = owner_of(request)
    # Off the event loop: fileData parts are read from disk.
    conversation = await asyncio.to_thread(
        conversation_for,
        body,
        fetch=_fetcher(runtime.files, owner),
        max_file_bytes=settings.exec_disk_mib << 20,
    )
    engine = await runtime.engine(model)
    files = GeneratedFiles(
        InlineBudget(per_file=settings.inline_file_bytes, left=settings.inline_response_bytes),
        publisher(runtime.files, owner, base_url=str(request.base_url)),
    )
    # Vertex AI has no partMetadata (its SDK refuses to send it back in a chat's history).
    writer = ResponseWriter(model, stats=not _is_vertex(request))
    telemetry: Telemetry = request.app.state.telemetry
    lease = await _lease(request)
    headers = {sessions.HEADER: lease.id} if lease else None
    live = stream and live_output.asked_for(request)
    events = files.returned(
        telemetry.observe(model, engine.run(conversation, lease.session if lease else None, live))
    )
    if not stream:
        try:
            async with contextlib.aclosing(events) as trail:
                return JSONResponse(writer.whole([event async for event in trail]), headers=headers)
        finally:
            if lease:
                lease.release()
    chunks = _chunks(events, writer, lease)
    if lease:
        # Released as the stream ends, or when it is dropped unstarted (its client had gone).
        weakref.finalize(chunks, lease.release)
    if request.query_params.get("alt") == "sse":
        return StreamingResponse(sse(chunks), media_type="text/event-stream", headers=headers)
    return StreamingResponse(json_array(chunks), media_type="application/json", headers=headers)


def _is_vertex(request: Request) -> bool:
    return "/publishers/" in request.url.path


async def _lease(request: Request) -> sessions.Lease | None:
    """The kept session this request asked for with x-codeloop-session, if it asked for one."""
    key = request.headers.get(sessions.HEADER)
    if key is None:
        return None
    return await runtime_of(request).sessions.acquire(key, owner_of(request))


async def _chunks(
    events: AsyncGenerator[Returned, None], writer: ResponseWriter, lease: sessions.Lease | None
) -> AsyncIterator[dict[str, Any]]:
    """One chunk per event: text as it comes, each code block whole, its output as it runs (where live
    output was asked for), each result whole, then the finish.

    The status line is already sent: a failure now ends the stream with an error chunk."""
    try:
        async with contextlib.aclosing(events) as trail:
            async for event in trail:
                if isinstance(event, Finished):
                    yield writer.render([], event)
                elif not isinstance(event, TextDelta) or event.text:
                    yield writer.render(writer.parts(event))
    except CodeloopError as exc:
        log.error("stream failed: %s", exc.message)
        yield error_body_for(exc)
    except Exception:
        log.exception("stream failed unexpectedly")
        yield error_body(500, internal_error_message(current_request_id()), "INTERNAL")
    finally:
        if lease:
            lease.release()


async def _count_tokens(request: Request, model: str) -> Response:
    runtime = runtime_of(request)
    raw = await read_body(request, runtime.settings.max_request_bytes)
    body = parse_generate_request(raw)
    conversation = await asyncio.to_thread(
        conversation_for, body, fetch=_fetcher(runtime.files, owner_of(request))
    )
    backend = await runtime.backend(model)
    total = sum(backend.count_tokens(message.content) for message in conversation.messages)
    return JSONResponse({"totalTokens": total})
