from __future__ import annotations

import asyncio
import json

from google.genai import types

from codeloop.execution import Execution, NamedFile, Outcome
from codeloop.loop.events import CodeBlock, CodeResult, Event, Finished, TextDelta, Usage
from codeloop.wire.response import LinkedFile, ResponseWriter, ReturnedResult
from codeloop.wire.stream import json_array, sse

TRAIL: list[Event] = [
    TextDelta("Let me "),
    TextDelta("compute."),
    CodeBlock("print(1)\n"),
    CodeResult(Execution(Outcome.OUTCOME_OK, "1\n", (NamedFile("figure_1.png", "image/png", b"\x89PNG"),))),
    TextDelta("It is 1."),
    Finished("STOP", Usage(10, 5, 2)),
]


def test_whole_response_is_googles_camel_case() -> None:
    body = ResponseWriter("scripted").whole(TRAIL)
    assert body["candidates"] == [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Let me compute."},
                    {"executableCode": {"language": "PYTHON", "code": "print(1)\n"}},
                    {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1\n"}},
                    {
                        "inlineData": {
                            "mimeType": "image/png",
                            "data": "iVBORw==",
                            "displayName": "figure_1.png",
                        }
                    },
                    {"text": "It is 1."},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ]
    assert body["usageMetadata"] == {
        "promptTokenCount": 10,
        "candidatesTokenCount": 5,
        "toolUsePromptTokenCount": 2,
        "totalTokenCount": 17,
    }
    assert body["modelVersion"] == "scripted"
    assert body["createTime"].endswith("Z")


def test_a_returned_result_carries_its_files_inline_or_linked_and_its_notes() -> None:
    returned = ReturnedResult(
        Execution(Outcome.OUTCOME_OK, "done"),
        (
            NamedFile("small.png", "image/png", b"\x89PNG"),
            LinkedFile("big.csv", "text/csv", "http://host/v1beta/files/abc"),
        ),
        ("[gone.bin (9 bytes) is not returned: File storage is full.]",),
    )
    result, inline, linked = ResponseWriter("m").parts(returned)
    assert result.code_execution_result and result.code_execution_result.output == (
        "done\n[gone.bin (9 bytes) is not returned: File storage is full.]\n"
    )
    assert inline.inline_data and inline.inline_data.data == b"\x89PNG"
    assert linked.file_data == types.FileData(
        mime_type="text/csv", file_uri="http://host/v1beta/files/abc", display_name="big.csv"
    )


def test_no_tool_tokens_no_field() -> None:
    body = ResponseWriter("m").whole([TextDelta("hi"), Finished("STOP", Usage(1, 1, 0))])
    assert "toolUsePromptTokenCount" not in body["usageMetadata"]


async def _frames(framing, bodies):
    async def source():
        for body in bodies:
            yield body

    return b"".join([frame async for frame in framing(source())])


def test_json_array_stream_is_valid_json() -> None:
    bodies = [{"a": 1}, {"b": 2}]
    raw = asyncio.run(_frames(json_array, bodies))
    assert json.loads(raw) == bodies
    assert json.loads(asyncio.run(_frames(json_array, []))) == []


def test_sse_stream() -> None:
    raw = asyncio.run(_frames(sse, [{"a": 1}, {"b": "é"}])).decode()
    assert raw == 'data: {"a":1}\r\n\r\ndata: {"b":"é"}\r\n\r\n'
