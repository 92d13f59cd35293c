"""One interaction's run: the loop's events written into its Record as steps and into its stream's log.

The run is a task of its own, so that a background interaction outlives its request and any
interaction can be cancelled. Whatever ends it (the model's finish, a failure, a cancel), its
Record gets a final status, its log the events that close the open step and end the stream
(interaction.completed, after an error event for a failure), and the conversation's interpreter
is given back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

from codeloop.errors import CodeloopError
from codeloop.loop.events import Finished
from codeloop.server.handlers import internal_error_message
from codeloop.server.interactions.store import Record
from codeloop.server.logs import current_request_id
from codeloop.wire.interactions import events
from codeloop.wire.interactions.shapes import InteractionError
from codeloop.wire.interactions.steps import Ending, StepWriter
from codeloop.wire.response import Returned

log = logging.getLogger("codeloop.server")


async def drive(record: Record, trail: AsyncGenerator[Returned, None], leased: bool) -> None:
    """The run, for InteractionStore.start to run as a task: the Record and its log fill as the trail
    comes. `leased`: the run uses (and then gives back) its conversation's interpreter."""
    request_id = current_request_id()
    record.log.add(events.created(record.interaction()))
    writer = StepWriter(first_index=len(record.request.input))
    record.output = writer.steps
    record.changed()
    ending = Ending("failed", errors=[InteractionError(code="INTERNAL", message="The run ended unfinished.")])
    try:
        async with contextlib.aclosing(trail):
            async for event in trail:
                fed = writer.feed(event)
                for body in fed:
                    record.log.add(body)
                if any(body["event_type"] == "step.stop" for body in fed):
                    record.changed()  # a step is whole: what another server's GET shows
                if isinstance(event, Finished):
                    ending = writer.ending(event)
    except asyncio.CancelledError:
        ending = Ending("cancelled")
        raise
    except CodeloopError as exc:
        log.error("interaction %s failed: %s", record.id, exc.message)
        ending = _failure(record, writer, exc.status, exc.message)
    except Exception:
        log.exception("interaction %s failed unexpectedly", record.id)
        ending = _failure(record, writer, "INTERNAL", internal_error_message(request_id))
    finally:
        _end(record, writer, ending)
        if leased and record.thread is not None:
            # Shielded: a cancelled run must still give its interpreter back.
            await asyncio.shield(record.thread.give_back())


def _failure(record: Record, writer: StepWriter, code: str, message: str) -> Ending:
    """The open step ends, then the error is told."""
    for body in [*writer.close(), events.error(code, message)]:
        record.log.add(body)
    return Ending("failed", errors=[InteractionError(code=code, message=message)])


def _end(record: Record, writer: StepWriter, ending: Ending) -> None:
    """The final state, written at once (no await: a cancelled run may be cancelled again)."""
    for body in writer.close():
        record.log.add(body)
    record.status = ending.status
    record.usage = ending.usage or record.usage
    record.errors = ending.errors
    record.updated = datetime.now(UTC)
    size = len(json.dumps([events.dump(step) for step in record.steps()]))
    record.history_bytes = (record.previous.history_bytes if record.previous else 0) + size
    record.log.add(events.completed(record.interaction()))
    record.log.close()
    record.changed()
