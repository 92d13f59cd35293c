"""Loop events to GenerateContentResponse JSON, whole or chunk by chunk, always camelCase."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pydantic
from google.genai import types

from codeloop.execution import BlockStats, Execution, NamedFile
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


@dataclass(frozen=True)
class LinkedFile:
    """A file code wrote, stored in the Files API: the response links to it instead of carrying it."""

    name: str
    mime_type: str
    uri: str


ReturnedFile = NamedFile | LinkedFile


@dataclass(frozen=True)
class ReturnedResult:
    """A code result as the response returns it: each file inline or linked, a note for each left out.

    Its execution's own files are dropped: `files` is what the response carries."""

    execution: Execution
    files: tuple[ReturnedFile, ...] = ()
    notes: tuple[str, ...] = ()
    id: str | None = None  # the id of the code block that ran


Returned = Event | ReturnedResult


def parts_for(event: Returned, stats: bool = False) -> list[types.Part]:
    """The parts one event contributes: a result is followed by the files its code wrote.

    With `stats`, a result's partMetadata carries what the block cost (a Gemini API field
    clients that don't know it ignore; Vertex AI has no partMetadata)."""
    if isinstance(event, TextDelta):
        return [types.Part(text=event.text)]
    if isinstance(event, FunctionCall):
        return [types.Part(function_call=types.FunctionCall(id=event.id, name=event.name, args=event.args))]
    if isinstance(event, CodeBlock):
        code = types.ExecutableCode(id=event.id, language=types.Language.PYTHON, code=event.code)
        return [types.Part(executable_code=code)]
    if isinstance(event, OutputPiece):
        # A result without an outcome: live output of the block with that id, its result to follow.
        return [types.Part(code_execution_result=types.CodeExecutionResult(id=event.id, output=event.text))]
    if isinstance(event, CodeResult):
        # A result no one placed (see server/generated_files.py) carries every file inline.
        event = ReturnedResult(event.execution, event.execution.files, id=event.id)
    if isinstance(event, ReturnedResult):
        execution = event.execution
        result = types.Part(
            code_execution_result=types.CodeExecutionResult(
                id=event.id, outcome=execution.outcome, output=_with_notes(execution.output, event.notes)
            ),
            part_metadata=_stats(execution.stats) if stats and execution.stats else None,
        )
        return [result, *map(_file_part, event.files)]
    return []


def _file_part(file: ReturnedFile) -> types.Part:
    if isinstance(file, LinkedFile):
        return types.Part(
            file_data=types.FileData(mime_type=file.mime_type, file_uri=file.uri, display_name=file.name)
        )
    return types.Part(
        inline_data=types.Blob(mime_type=file.mime_type, data=file.data, display_name=file.name)
    )


def _with_notes(output: str, notes: tuple[str, ...]) -> str:
    """The block's output, then a line per note, so that the client learns what is missing and why."""
    if not notes:
        return output
    if output and not output.endswith("\n"):
        output += "\n"
    return output + "".join(note + "\n" for note in notes)


def _stats(stats: BlockStats) -> dict[str, Any]:
    return {
        "executionStats": {
            "cpuMs": stats.cpu_ms,
            "wallMs": stats.wall_ms,
            "peakMemoryBytes": stats.peak_memory_bytes,
        }
    }


def merge_text(parts: Iterable[types.Part]) -> list[types.Part]:
    """Adjacent text parts joined, as a non-streamed response has them."""
    merged: list[types.Part] = []
    for part in parts:
        if part.text is not None and merged and merged[-1].text is not None:
            merged[-1] = types.Part(text=merged[-1].text + part.text)
        else:
            merged.append(part)
    return merged


class ResponseWriter:
    """Renders the responses of one request; every chunk shares its id, model version and time."""

    def __init__(self, model_version: str, stats: bool = False) -> None:
        self.model_version = model_version
        self.stats = stats
        self.response_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        self.create_time = datetime.now(UTC)

    def render(self, parts: list[types.Part], finish: Finished | None = None) -> dict[str, Any]:
        if finish is not None and not parts:
            # Gemini's closing chunk carries an empty text part beside the finish reason.
            parts = [types.Part(text="")]
        candidate = types.Candidate(
            content=types.Content(role="model", parts=parts),
            finish_reason=types.FinishReason(finish.finish_reason) if finish else None,
            finish_message=finish.message if finish else None,
            index=0,
        )
        if finish is not None and finish.logprobs is not None:
            candidate.logprobs_result = _logprobs_result(finish.logprobs)
            chosen = [token.chosen.logprob for token in finish.logprobs]
            candidate.avg_logprobs = sum(chosen) / len(chosen) if chosen else None
        response = types.GenerateContentResponse(
            candidates=[candidate],
            usage_metadata=_usage(finish.usage) if finish else None,
            model_version=self.model_version,
            create_time=self.create_time,
            response_id=self.response_id,
        )
        return camel_json(response)

    def parts(self, event: Returned) -> list[types.Part]:
        return parts_for(event, self.stats)

    def whole(self, events: Iterable[Returned]) -> dict[str, Any]:
        """The non-streamed response: the whole trail in one candidate."""
        parts: list[types.Part] = []
        finish = None
        for event in events:
            parts.extend(self.parts(event))
            if isinstance(event, Finished):
                finish = event
        return self.render(merge_text(parts), finish)


def _logprobs_result(tokens: tuple[TokenLogprob, ...]) -> types.LogprobsResult:
    """Gemini's logprobsResult: the chosen token at each step, and the likeliest ones there."""
    return types.LogprobsResult(
        chosen_candidates=[_candidate(token.chosen) for token in tokens],
        top_candidates=[
            types.LogprobsResultTopCandidates(candidates=[_candidate(top) for top in token.top])
            for token in tokens
        ]
        if any(token.top for token in tokens)
        else None,
        log_probability_sum=sum(token.chosen.logprob for token in tokens),
    )


def _candidate(candidate: Candidate) -> types.LogprobsResultCandidate:
    return types.LogprobsResultCandidate(
        token=candidate.token, token_id=candidate.token_id, log_probability=candidate.logprob
    )


def camel_json(model: pydantic.BaseModel) -> dict[str, Any]:
    """A google.genai model as Google sends it: camelCase, and bytes in standard base64 with padding,
    as proto3 JSON writes them (pydantic writes the URL-safe alphabet, which strict decoders refuse)."""
    as_json: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    with_bytes = model.model_dump(by_alias=True, exclude_none=True)
    standard: dict[str, Any] = _standard_base64(with_bytes, as_json)
    return standard


def _standard_base64(value: Any, as_json: Any) -> Any:
    """as_json, with each value that is bytes in `value` (the same dump, bytes kept) re-encoded."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: _standard_base64(value[key], item) for key, item in as_json.items()}
    if isinstance(value, list | tuple):
        return [_standard_base64(old, item) for old, item in zip(value, as_json, strict=True)]
    return as_json


def _usage(usage: Usage) -> types.GenerateContentResponseUsageMetadata:
    return types.GenerateContentResponseUsageMetadata(
        prompt_token_count=usage.prompt_tokens,
        candidates_token_count=usage.candidates_tokens,
        tool_use_prompt_token_count=usage.tool_use_prompt_tokens or None,
        total_token_count=usage.total_tokens,
    )
