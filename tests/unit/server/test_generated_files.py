from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator

from codeloop.errors import QuotaExceeded
from codeloop.execution import Execution, NamedFile, Outcome
from codeloop.loop.events import CodeBlock, CodeResult, Event
from codeloop.server.generated_files import GeneratedFiles, InlineBudget
from codeloop.wire.response import LinkedFile, ReturnedResult


def _file(name: str, size: int, mime_type: str = "application/octet-stream") -> NamedFile:
    return NamedFile(name, mime_type, b"x" * size)


def _links(stored: list[str]) -> GeneratedFiles:
    def publish(file: NamedFile) -> str:
        stored.append(file.name)
        return f"http://host/v1beta/files/{file.name}"

    return GeneratedFiles(InlineBudget(per_file=5, left=12), publish)


def test_files_go_inline_while_the_response_budget_lasts_then_as_links() -> None:
    stored: list[str] = []
    files = (
        _file("a.png", 8, "image/png"),  # an image past the per-file size: inline, budget left 4
        _file("b.txt", 4),  # inline, budget spent
        _file("c.png", 1, "image/png"),  # no budget left: linked
        _file("d.bin", 6),  # past the per-file size: linked whatever the budget
    )
    returned = _links(stored).place(Execution(Outcome.OUTCOME_OK, "ok", files))
    assert [type(f).__name__ for f in returned.files] == [
        "NamedFile",
        "NamedFile",
        "LinkedFile",
        "LinkedFile",
    ]
    assert stored == ["c.png", "d.bin"]
    assert returned.files[2] == LinkedFile("c.png", "image/png", "http://host/v1beta/files/c.png")
    assert returned.execution.files == () and returned.execution.output == "ok" and returned.notes == ()


def test_the_budget_is_the_responses_across_its_results() -> None:
    stored: list[str] = []
    generated = _links(stored)
    generated.place(Execution(Outcome.OUTCOME_OK, "", (_file("one.png", 10, "image/png"),)))
    second = generated.place(Execution(Outcome.OUTCOME_OK, "", (_file("two.png", 10, "image/png"),)))
    assert stored == ["two.png"] and isinstance(second.files[0], LinkedFile)


def test_a_file_that_cannot_be_published_is_left_out_with_a_note() -> None:
    def publish(file: NamedFile) -> str:
        if file.name == "full.bin":
            raise QuotaExceeded("File storage is full.")
        return "http://host/v1beta/files/abc"

    files = (_file("full.bin", 10), _file("ok.bin", 10))
    generated = GeneratedFiles(InlineBudget(per_file=5, left=16 << 20), publish)
    returned = generated.place(Execution(Outcome.OUTCOME_OK, "done", files))
    assert returned.notes == ("[full.bin (10 bytes) is not returned: File storage is full.]",)
    assert returned.files == (
        LinkedFile("ok.bin", "application/octet-stream", "http://host/v1beta/files/abc"),
    )


def test_results_are_placed_off_the_event_loop_and_the_rest_passes_through() -> None:
    threads: list[threading.Thread] = []

    def publish(file: NamedFile) -> str:
        threads.append(threading.current_thread())
        return "http://host/v1beta/files/abc"

    async def engine() -> AsyncGenerator[Event, None]:
        yield CodeBlock("print(1)")
        yield CodeResult(Execution(Outcome.OUTCOME_OK, "1\n", (_file("big.bin", 10),)))

    async def trail() -> list[object]:
        generated = GeneratedFiles(InlineBudget(per_file=0, left=0), publish)
        return [event async for event in generated.returned(engine())]

    block, result = asyncio.run(trail())
    assert block == CodeBlock("print(1)")
    assert isinstance(result, ReturnedResult) and isinstance(result.files[0], LinkedFile)
    assert threads and threads[0] is not threading.main_thread()
