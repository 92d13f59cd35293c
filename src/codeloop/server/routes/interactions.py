"""The Interactions API: create (whole, streamed or in the background), get (or replay its stream),
cancel and delete, as google-genai's `client.interactions` calls them.

A stored interaction (the default) is its owner's, found only with the key that made it, and
`previous_interaction_id` continues its conversation and its interpreter: what one turn's code
defined, the next turn's code finds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import weakref
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from codeloop.backends.base import Sampling
from codeloop.errors import InvalidRequest
from codeloop.files.store import FileStore
from codeloop.loop.engine import Conversation
from codeloop.loop.inputs import FetchedFile, FetchFile
from codeloop.server import openapi
from codeloop.server.access import owner_of
from codeloop.server.body import read_body
from codeloop.server.generated_files import GeneratedFiles, InlineBudget, publisher
from codeloop.server.interactions import runs
from codeloop.server.interactions.store import InteractionStore, Record
from codeloop.server.routes import interactions_openapi as doc
from codeloop.server.runtime import runtime_of
from codeloop.server.telemetry import Telemetry
from codeloop.wire.interactions.events import render, sse_frame
from codeloop.wire.interactions.history import contents_of, file_parts
from codeloop.wire.interactions.request import CreateInteraction, parse_create_request
from codeloop.wire.interactions.shapes import Step

router = APIRouter()
COLLECTION = "/{version}/interactions"
ITEM = "/{version}/interactions/{interaction_id}"


@router.post(
    COLLECTION,
    summary="Create an interaction: the loop runs, whole, streamed or in the background",
    response_class=Response,
    responses=doc.CREATE_RESPONSES,
    openapi_extra={"parameters": [openapi.KEY_PARAMETER], "requestBody": doc.CREATE_BODY},
)
async def create_interaction(request: Request, version: openapi.Version) -> Response:
    openapi.check_version(request, version)
    runtime = runtime_of(request)
    settings = runtime.settings
    parsed = parse_create_request(await read_body(request, settings.max_request_bytes))
    owner = owner_of(request)
    model = runtime.registry.canonical(parsed.model)
    store = runtime.interactions
    previous = None
    if parsed.body.previous_interaction_id:
        previous = await store.get(owner, parsed.body.previous_interaction_id)
    history = previous.history() if previous is not None else []
    # Off the event loop: files are read from disk and decoded.
    conversation = await asyncio.to_thread(
        _conversation, parsed, history, _fetcher(runtime.files, owner), settings.exec_disk_mib << 20
    )
    engine = await runtime.engine(model)
    record, session = await store.begin(owner, parsed, previous)
    files = GeneratedFiles(
        InlineBudget(per_file=settings.inline_file_bytes, left=settings.inline_response_bytes),
        publisher(runtime.files, owner, base_url=str(request.base_url)),
    )
    telemetry: Telemetry = request.app.state.telemetry
    trail = files.returned(telemetry.observe(model, engine.run(conversation, session)))
    await store.start(record, runs.drive(record, trail, leased=session is not None))
    if parsed.body.stream:
        return _stream(record, 0, owns_run=True)
    if parsed.body.background:
        return JSONResponse(render(record.interaction()))
    await _ended(record)
    return JSONResponse(render(record.interaction()))


@router.get(
    ITEM,
    summary="Get an interaction, or replay and follow its stream",
    response_class=Response,
    responses=doc.GET_RESPONSES,
    openapi_extra={"parameters": doc.GET_PARAMETERS},
)
async def get_interaction(
    request: Request, version: openapi.Version, interaction_id: doc.InteractionId
) -> Response:
    openapi.check_version(request, version)
    query = request.query_params
    stream = _flag(query.get("stream"), "stream")
    include_input = _flag(query.get("include_input"), "include_input")
    last_event_id = query.get("last_event_id")
    record = await _store(request).get(owner_of(request), interaction_id)
    if last_event_id is not None and not stream:
        raise InvalidRequest("* last_event_id: only with stream=true.")
    if stream:
        position = record.log.position_after(last_event_id) if last_event_id else 0
        return _stream(record, position, owns_run=False)
    return JSONResponse(render(record.interaction(include_input)))


@router.post(
    ITEM + "/cancel",
    summary="Cancel a running interaction",
    responses=doc.CANCEL_RESPONSES,
    openapi_extra={"parameters": [openapi.KEY_PARAMETER]},
)
async def cancel_interaction(
    request: Request, version: openapi.Version, interaction_id: doc.InteractionId
) -> JSONResponse:
    openapi.check_version(request, version)
    record = await _store(request).cancel(owner_of(request), interaction_id)
    return JSONResponse(render(record.interaction()))


@router.delete(
    ITEM,
    summary="Delete an interaction",
    responses=doc.DELETE_RESPONSES,
    openapi_extra={"parameters": [openapi.KEY_PARAMETER]},
)
async def delete_interaction(
    request: Request, version: openapi.Version, interaction_id: doc.InteractionId
) -> JSONResponse:
    openapi.check_version(request, version)
    await _store(request).delete(owner_of(request), interaction_id)
    return JSONResponse({})


def _store(request: Request) -> InteractionStore:
    return runtime_of(request).interactions


def _conversation(
    parsed: CreateInteraction, history: list[Step], fetch: FetchFile, max_file_bytes: int
) -> Conversation:
    """The whole conversation for the loop; only this turn's files are staged (earlier ones are in the
    conversation's interpreter already, perhaps changed by its code)."""
    body, config = parsed.body, parsed.config
    sampling = Sampling(
        temperature=config.temperature,
        top_p=config.top_p,
        max_tokens=config.max_output_tokens,
        stop=tuple(config.stop_sequences or ()),
        seed=config.seed,
    )
    conversation = Conversation.from_contents(
        contents_of([*history, *parsed.input]),
        system_instruction=body.system_instruction or None,
        code_execution=parsed.code_execution,
        sampling=sampling,
        fetch=fetch,
        max_file_bytes=max_file_bytes,
        functions=parsed.functions,
    )
    kept = len(conversation.files) - file_parts(parsed.input)
    return dataclasses.replace(conversation, files=conversation.files[kept:])


def _fetcher(files: FileStore, owner: str) -> FetchFile:
    def fetch(uri: str) -> FetchedFile:
        stored = files.get(owner, uri)
        return FetchedFile(files.read(owner, uri), stored.mime_type, stored.display_name)

    return fetch


async def _ended(record: Record) -> None:
    """Wait for the run; a request that goes away first takes its (foreground) run with it."""
    assert record.task is not None
    try:
        await asyncio.wait({record.task})
    except asyncio.CancelledError:
        _cancel(record)
        raise


def _stream(record: Record, position: int, owns_run: bool) -> StreamingResponse:
    frames = _frames(record, position, owns_run)
    if owns_run:
        # Cancelled as the stream ends early, or when it is dropped unstarted (its client had gone).
        weakref.finalize(frames, _cancel, record)
    return StreamingResponse(frames, media_type="text/event-stream", headers={"cache-control": "no-cache"})


async def _frames(record: Record, position: int, owns_run: bool) -> AsyncIterator[bytes]:
    try:
        async for event_id, event in record.log.follow(position):
            yield sse_frame(event_id, event)
    finally:
        if owns_run:
            _cancel(record)


def _cancel(record: Record) -> None:
    """Cancel a foreground run whose client has gone; a background one goes on."""
    if not record.background and record.task is not None and not record.task.done():
        record.task.cancel()


def _flag(value: str | None, name: str) -> bool:
    if value is None or value.lower() in ("false", "0", ""):
        return False
    if value.lower() in ("true", "1"):
        return True
    raise InvalidRequest(f"* {name}: true or false, not {value[:40]!r}.")
