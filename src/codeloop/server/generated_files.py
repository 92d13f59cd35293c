"""Files code wrote, made ready for the response as they come out of the sandbox, before it renders.

Each file goes inline while the response's inline budget lasts (images, and other files up to
--inline-file-bytes), else into the Files API (written and fsynced in a thread, off the event loop)
as a GENERATED file the response links to, else, when it cannot be stored, it is left out with a note
in its block's output. Its bytes are dropped once placed: a response holds at most its inline budget of
file bytes, however many files its blocks write.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from codeloop.errors import CodeloopError
from codeloop.execution import Execution, NamedFile
from codeloop.files.store import FileStore
from codeloop.loop.events import CodeResult, Event
from codeloop.wire.files import file_resource
from codeloop.wire.response import LinkedFile, Returned, ReturnedFile, ReturnedResult

# Stores a file and returns the URI clients download it from; a CodeloopError (no room, too big,
# disk full) when it cannot.
Publish = Callable[[NamedFile], str]


@dataclass
class InlineBudget:
    """What one response carries inline, first come first served: images of any size and other files
    up to `per_file` bytes, while `left` lasts."""

    per_file: int
    left: int

    def take(self, file: NamedFile) -> bool:
        """Whether `file` goes inline; if it does, its size is spent."""
        size = len(file.data)
        if size > self.left or (size > self.per_file and not file.mime_type.startswith("image/")):
            return False
        self.left -= size
        return True


class GeneratedFiles:
    """Places the files of one response's code results: inline, linked, or left out with a note."""

    def __init__(self, budget: InlineBudget, publish: Publish) -> None:
        self.budget = budget
        self.publish = publish

    def place(self, execution: Execution) -> ReturnedResult:
        """The result as the response returns it. With files it blocks on the store: call it in a thread."""
        files: list[ReturnedFile] = []
        notes: list[str] = []
        for file in execution.files:
            if self.budget.take(file):
                files.append(file)
                continue
            try:
                files.append(LinkedFile(file.name, file.mime_type, self.publish(file)))
            except CodeloopError as exc:
                notes.append(f"[{file.name} ({len(file.data)} bytes) is not returned: {exc.message}]")
        return ReturnedResult(dataclasses.replace(execution, files=()), tuple(files), tuple(notes))

    async def returned(self, events: AsyncGenerator[Event, None]) -> AsyncGenerator[Returned, None]:
        """The events, each code result placed as it arrives; the rest pass through unchanged."""
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, CodeResult):
                    execution = event.execution
                    # Only files touch the store: a result without any is placed here, with no thread hop.
                    if execution.files:
                        placed = await asyncio.to_thread(self.place, execution)
                    else:
                        placed = self.place(execution)
                    yield dataclasses.replace(placed, id=event.id)
                else:
                    yield event


def publisher(files: FileStore, owner: str, base_url: str) -> Publish:
    """Publish into the Files API as owner's GENERATED files, linked under base_url."""

    def publish(file: NamedFile) -> str:
        stored = files.put(
            owner, file.data, mime_type=file.mime_type, display_name=file.name, source="GENERATED"
        )
        uri: str = file_resource(stored, base_url)["uri"]
        return uri

    return publish
