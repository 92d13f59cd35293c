from __future__ import annotations

import asyncio
import base64
import json

from google.genai import types

from codeloop.execution import Execution, NamedFile, Outcome
from codeloop.logprobs import Candidate, TokenLogprob
from codeloop.loop.events import (
    CodeBlock,
    CodeResult,
    Event,
    Finished,
    FunctionCall,
    OutputPiece,
    TextDelta,
    Usage,
)
from codeloop.wire.response import LinkedFile, ResponseWriter, ReturnedResult
from codeloop.wire.stream import json_array, sse

TRAIL: list[Event] = [
    TextDelta("Let me "),
    TextDelta("compute."),
    CodeBlock("print(1)\n", id="b1"),
    CodeResult(
        Execution(Outcome.OUTCOME_OK, "1\n", (NamedFile("figure_1.png", "image/png", b"\x89PNG"),)), id="b1"
    ),
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
                    {"executableCode": {"id": "b1", "language": "PYTHON", "code": "print(1)\n"}},
                    {"codeExecutionResult": {"id": "b1", "outcome": "OUTCOME_OK", "output": "1\n"}},
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


def test_bytes_go_out_in_standard_base64_with_padding() -> None:
    data = bytes([0xFB, 0xFF, 0xBF, 0xFE, 0x3E])  # URL-safe base64 would write "-_-__j4="
    result = CodeResult(
        Execution(Outcome.OUTCOME_OK, "", (NamedFile("a.bin", "application/octet-stream", data),))
    )
    parts = ResponseWriter("m").whole([result])["candidates"][0]["content"]["parts"]
    assert parts[1]["inlineData"]["data"] == "+/+//j4="
    assert base64.b64decode(parts[1]["inlineData"]["data"], validate=True) == data


def test_a_function_call_carries_its_id() -> None:
    body = ResponseWriter("m").whole([FunctionCall("f", {"x": 1}, id="c1"), Finished("STOP", Usage())])
    assert body["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"id": "c1", "name": "f", "args": {"x": 1}}}
    ]


def test_a_finish_that_is_not_stop_says_why() -> None:
    finish = Finished("TOO_MANY_TOOL_CALLS", Usage(), message="The loop ran its limit of 10 code blocks.")
    candidate = ResponseWriter("m").render([], finish)["candidates"][0]
    assert candidate["finishReason"] == "TOO_MANY_TOOL_CALLS"
    assert candidate["finishMessage"] == "The loop ran its limit of 10 code blocks."


def test_log_probabilities_are_gemini_logprobs_result() -> None:
    tokens = (
        TokenLogprob(Candidate("Hi", -0.5, 7), (Candidate("Hi", -0.5, 7), Candidate("Yo", -1.5, 9))),
        TokenLogprob(Candidate("!", -1.5, 3), (Candidate(".", -0.25, 4), Candidate("!", -1.5, 3))),
    )
    candidate = ResponseWriter("m").render([], Finished("STOP", Usage(), logprobs=tokens))["candidates"][0]
    assert candidate["avgLogprobs"] == -1.0
    assert candidate["logprobsResult"] == {
        "chosenCandidates": [
            {"token": "Hi", "tokenId": 7, "logProbability": -0.5},
            {"token": "!", "tokenId": 3, "logProbability": -1.5},
        ],
        "topCandidates": [
            {
                "candidates": [
                    {"token": "Hi", "tokenId": 7, "logProbability": -0.5},
                    {"token": "Yo", "tokenId": 9, "logProbability": -1.5},
                ]
            },
            {
                "candidates": [
                    {"token": ".", "tokenId": 4, "logProbability": -0.25},
                    {"token": "!", "tokenId": 3, "logProbability": -1.5},
                ]
            },
        ],
        "logProbabilitySum": -2.0,
    }
    chosen_only = (TokenLogprob(Candidate("Hi", -0.5)),)
    result = ResponseWriter("m").render([], Finished("STOP", Usage(), logprobs=chosen_only))["candidates"][0]
    assert result["logprobsResult"] == {
        "chosenCandidates": [{"token": "Hi", "logProbability": -0.5}],
        "logProbabilitySum": -0.5,
    }


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


def test_live_output_is_a_result_part_without_an_outcome() -> None:
    writer = ResponseWriter("scripted")
    chunk = writer.render(writer.parts(OutputPiece('0\n\ndata: {"x": 1}\n]', id="b1")))
    assert chunk["candidates"] == [
        {
            "content": {
                "role": "model",
                "parts": [{"codeExecutionResult": {"id": "b1", "output": '0\n\ndata: {"x": 1}\n]'}}],
            },
            "index": 0,
        }
    ]
    assert chunk["modelVersion"] == "scripted" and chunk["responseId"] == writer.response_id
    parsed = types.GenerateContentResponse.model_validate(chunk)
    assert parsed.code_execution_result == '0\n\ndata: {"x": 1}\n]'
    assert parsed.candidates[0].content.parts[0].code_execution_result.outcome is None
