"""An interaction's stream, kept: every event in order with its id, for its own stream and any GET that
replays it, from the start or after the last event a client saw, and follows it while it grows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from codeloop.errors import InvalidRequest
from codeloop.wire.interactions.events import EventBody


class EventLog:
    def __init__(self, events: list[EventBody] | None = None, closed: bool = False) -> None:
        self._events: list[EventBody] = list(events or ())
        self._grown = asyncio.Event()
        self.closed = closed

    def events(self) -> list[EventBody]:
        return list(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def add(self, event: EventBody) -> None:
        self._events.append(event)
        self._wake()

    def close(self) -> None:
        """No more events: followers end once they have the last one."""
        self.closed = True
        self._wake()

    def position_after(self, event_id: str) -> int:
        """Where a stream resumes after the event `event_id` names; InvalidRequest for an id it never gave."""
        if not event_id.isdigit() or not 1 <= int(event_id) <= len(self._events):
            raise InvalidRequest(f"* last_event_id: {event_id[:40]!r} is no event of this interaction.")
        return int(event_id)

    async def follow(self, position: int = 0) -> AsyncIterator[tuple[str, EventBody]]:
        """Each event from `position` on with its id, waiting for more until the log is closed."""
        while True:
            while position < len(self._events):
                position += 1
                yield str(position), self._events[position - 1]
            if self.closed:
                return
            grown = self._grown
            await grown.wait()

    def _wake(self) -> None:
        self._grown.set()
        self._grown = asyncio.Event()
