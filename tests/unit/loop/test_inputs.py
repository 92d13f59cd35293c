"""Input files: names as Gemini gives them, what the model is told, what it cannot be given."""

from __future__ import annotations

import asyncio

import pytest
from google.genai import types

from codeloop.backends.scripted import ScriptedBackend
from codeloop.errors import InvalidRequest, PayloadTooLarge
from codeloop.execution import Execution, Outcome
from codeloop.loop.engine import Conversation, Engine
from codeloop.loop.inputs import FetchedFile, InputFiles

CSV = b"name,age\nada,36\nalan,41\n"


def inline(data: bytes, mime_type: str, display_name: str | None = None) -> types.Part:
    return types.Part(inline_data=types.Blob(data=data, mime_type=mime_type, display_name=display_name))


def test_files_are_numbered_in_order_with_their_types_extension() -> None:
    files = InputFiles()
    for part in (inline(CSV, "text/csv"), inline(b"\x89PNG", "image/png"), inline(b"{}", "application/json")):
        files.add(part, code_execution=True)
    files.add(inline(b"x", "application/x-unknown-thing"), code_execution=True)
    files.add(inline(b"a,b\n", "Text/CSV; charset=utf-8"), code_execution=True)
    assert [f.name for f in files.files] == [
        "input_file_0.csv",
        "input_file_1.png",
        "input_file_2.json",
        "input_file_3.bin",
        "input_file_4.csv",
    ]


def test_display_names_are_kept_made_safe_and_unique() -> None:
    files = InputFiles()
    for name in ("sales.csv", "sales.csv", "../../etc/passwd", "a b/c?.txt", ".."):
        files.add(inline(b"1", "text/plain", name), code_execution=True)
    assert [f.name for f in files.files] == ["sales.csv", "sales_1.csv", "passwd", "c_.txt", "file"]


def test_stored_display_names_over_a_file_names_length_are_fitted() -> None:
    # Display names in a request are bounded at the edge (wire.request); the Files API allows 512
    # characters: such a stored name is shortened, its extension kept.
    stored = FetchedFile(b"1", "text/csv", "s" * 508 + ".csv")
    files = InputFiles(lambda uri: stored)
    for _ in range(2):
        files.add(types.Part(file_data=types.FileData(file_uri="files/x")), code_execution=True)
    first, second = (f.name for f in files.files)
    assert (len(first), len(second)) == (255, 255)
    assert first.endswith("s.csv") and second.endswith("s_1.csv")


def test_the_model_is_told_the_name_type_size_and_head_of_a_text_file() -> None:
    note = InputFiles().add(inline(CSV, "text/csv"), code_execution=True)
    assert "input_file_0.csv (text/csv, 24 bytes) is in the working directory" in note
    assert "name,age\nada,36" in note
    binary = InputFiles().add(inline(b"\x89PNG", "image/png"), code_execution=True)
    assert "input_file_0.png (image/png, 4 bytes)" in binary and "begins" not in binary


def test_without_code_execution_text_is_inlined_and_binary_refused() -> None:
    assert "ada,36" in InputFiles().add(inline(CSV, "text/csv"), code_execution=False)
    with pytest.raises(InvalidRequest, match="enable the codeExecution tool"):
        InputFiles().add(inline(b"\x89PNG", "image/png"), code_execution=False)


def test_file_data_is_fetched_and_its_size_capped() -> None:
    fetched = FetchedFile(CSV, "text/csv", "people.csv")
    files = InputFiles(fetch=lambda uri: fetched, max_total_bytes=40)
    ref = types.Part(file_data=types.FileData(file_uri="http://h/v1beta/files/abc", mime_type="text/csv"))
    files.add(ref, code_execution=True)
    assert files.files[0].name == "people.csv" and files.files[0].data == CSV
    with pytest.raises(PayloadTooLarge):
        files.add(ref, code_execution=True)
    with pytest.raises(InvalidRequest, match="Files API"):
        InputFiles().add(ref, code_execution=True)


class StagingSession:
    def __init__(self) -> None:
        self.staged: dict[str, bytes] = {}
        self.ran: list[tuple[str, list[str]]] = []

    async def put_file(self, name: str, data: bytes) -> None:
        self.staged[name] = data

    async def run(self, code: str, timeout_s: float | None = None, on_output: object = None) -> Execution:
        self.ran.append((code, sorted(self.staged)))
        return Execution(Outcome.OUTCOME_OK, "ok\n")

    async def close(self) -> None:
        pass


def test_files_are_staged_before_the_first_block_runs() -> None:
    question = types.Content(
        role="user",
        parts=[inline(CSV, "text/csv"), types.Part(text="```python\nprint(open('x').read())\n```")],
    )
    conversation = Conversation.from_contents([question])
    assert "input_file_0.csv" in conversation.messages[-1].content
    session = StagingSession()
    engine = Engine(ScriptedBackend(), sandbox=None)  # the session is given

    async def drain() -> None:
        async for _ in engine.run(conversation, session):
            pass

    asyncio.run(drain())
    assert session.staged == {"input_file_0.csv": CSV}
    assert session.ran == [("print(open('x').read())\n", ["input_file_0.csv"])]
