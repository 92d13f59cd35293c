"""run_block and put_file against a scripted interpreter: what a reply that cannot be believed does."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from codeloop.errors import StagingFailed
from codeloop.execution import Outcome
from codeloop.sandbox import blocks
from codeloop.sandbox.output import Output
from codeloop.sandbox.protocol import FILE_BUDGET, InvalidMessage, ProtocolError

Answer = Callable[[dict[str, Any]], dict[str, Any]]
STATS = {"cpu_ms": 1.0, "wall_ms": 1.0, "peak_memory_bytes": 1}


def ok_result(request: dict[str, Any]) -> dict[str, Any]:
    return {"type": "result", "id": request["id"], "ok": True, "trailer": "", "files": [], "stats": STATS}


class Scripted:
    """An interpreter whose replies a function writes; it records how it was ended."""

    def __init__(self, answer: Answer | Exception) -> None:
        r, self._w = os.pipe()
        self.output = Output(r, limit=4096)
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        self.ended: list[str] = []

    async def request(self, frame: bytes, kind: str) -> dict[str, Any]:
        request = json.loads(frame[4:])
        self.requests.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        if self.answer is hang:
            await asyncio.Event().wait()
        return self.answer(request)

    async def kill(self) -> None:
        self.ended.append("kill")
        self.close()

    async def post_mortem(self, exc: Exception) -> str:
        self.ended.append("post_mortem")
        self.close()
        return "exited with code 3"

    def abandon(self) -> None:
        self.ended.append("abandon")
        self.close()

    def close(self) -> None:
        self.output.close()
        os.close(self._w)


def hang(request: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError("never answers")


def run(answer: Answer | Exception, timeout_s: float = 5) -> tuple[Any, Scripted]:
    async def scenario() -> tuple[Any, Scripted]:
        interpreter = Scripted(answer)
        return await blocks.run_block(interpreter, "print(1)", timeout_s, 4096), interpreter

    return asyncio.run(scenario())


def test_a_result_that_echoes_its_request_is_believed() -> None:
    execution, interpreter = run(lambda r: {**ok_result(r), "trailer": "done\n"})
    assert (execution.outcome, execution.output) == (Outcome.OUTCOME_OK, "done\n")
    assert interpreter.ended == []


def test_each_request_carries_a_fresh_id() -> None:
    _, first = run(ok_result)
    _, second = run(ok_result)
    assert first.requests[0]["id"] != second.requests[0]["id"]


def test_a_result_for_another_request_fails_the_block_and_kills_the_interpreter() -> None:
    execution, interpreter = run(lambda r: {**ok_result(r), "id": "stale"})
    assert execution.outcome == Outcome.OUTCOME_FAILED
    note = "The interpreter broke the sandbox protocol (the result message answers another request"
    assert execution.output.startswith(note)
    assert "restarted and its state lost" in execution.output
    assert interpreter.ended == ["kill"]


def test_a_result_past_the_limits_fails_the_block_naming_the_fault() -> None:
    bad = {"name": "../../etc/passwd", "mime_type": "text/plain", "data": ""}
    execution, interpreter = run(lambda r: {**ok_result(r), "files": [bad]})
    assert execution.outcome == Outcome.OUTCOME_FAILED
    assert "file 1's name '../../etc/passwd' has a '..' component" in execution.output
    assert interpreter.ended == ["kill"]


def test_a_frame_that_cannot_be_a_message_fails_the_block_naming_the_fault() -> None:
    execution, interpreter = run(InvalidMessage("frame announces 4294967295 bytes, more than 46470916"))
    assert "broke the sandbox protocol (frame announces 4294967295 bytes" in execution.output
    assert interpreter.ended == ["kill"]


def test_a_dead_interpreter_still_gets_its_post_mortem() -> None:
    execution, interpreter = run(ProtocolError("the interpreter closed the channel"))
    assert execution.output == "The interpreter exited with code 3; it was restarted and its state lost.\n"
    assert interpreter.ended == ["post_mortem"]


def test_decoding_a_big_result_leaves_the_event_loop_free() -> None:
    data = base64.b64encode(os.urandom(FILE_BUDGET)).decode()

    def big(request: dict[str, Any]) -> dict[str, Any]:
        return {**ok_result(request), "files": [{"name": "big.bin", "mime_type": "image/png", "data": data}]}

    async def scenario() -> tuple[float, float]:
        interpreter = Scripted(big)
        started = time.perf_counter()
        execution = await blocks.run_block(interpreter, "", 60, 4096)
        took = time.perf_counter() - started
        assert len(execution.files[0].data) == FILE_BUDGET
        return took, await longest_stall(blocks.run_block(Scripted(big), "", 60, 4096))

    took, stall = asyncio.run(scenario())
    assert stall < max(took / 4, 0.05), (took, stall)


async def longest_stall(work: Any) -> float:
    """The longest the event loop went without running a ticker while `work` ran."""
    task = asyncio.ensure_future(work)
    longest, last = 0.0, time.perf_counter()
    while not task.done():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    await task
    return longest


def put(answer: Answer | Exception, data: bytes = b"x") -> tuple[Scripted, StagingFailed | None]:
    async def scenario() -> tuple[Scripted, StagingFailed | None]:
        interpreter = Scripted(answer)
        try:
            await blocks.put_file(interpreter, "in.csv", data)
        except StagingFailed as exc:
            return interpreter, exc
        finally:
            if not interpreter.ended:
                interpreter.close()
        return interpreter, None

    return asyncio.run(scenario())


def put_ok(request: dict[str, Any]) -> dict[str, Any]:
    return {"type": "put", "id": request["id"], "ok": True}


def test_a_put_that_is_answered_stages_the_file_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blocks, "PUT_PIECE_BYTES", 4)
    interpreter, error = put(put_ok, b"0123456789")
    assert error is None
    pieces = [(base64.b64decode(r["data"]), r["append"]) for r in interpreter.requests]
    assert pieces == [(b"0123", False), (b"4567", True), (b"89", True)]
    assert len({r["id"] for r in interpreter.requests}) == 3
    assert interpreter.ended == []


def test_a_put_nobody_answers_meets_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blocks, "PUT_TIMEOUT_S", 0.1)
    started = time.monotonic()
    interpreter, error = put(hang)
    assert str(error).startswith("cannot stage 'in.csv': the interpreter did not take it within 0.1 s;")
    assert interpreter.ended == ["kill"]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "answer",
    [
        lambda r: {**put_ok(r), "id": "stale"},
        lambda r: {"type": "put", "id": r["id"], "ok": "sure"},
        InvalidMessage("frame of unknown type 'evil'"),
    ],
)
def test_a_put_answered_wrongly_kills_the_interpreter(answer: Answer | Exception) -> None:
    interpreter, error = put(answer)
    assert "cannot stage 'in.csv': the interpreter broke the sandbox protocol (" in str(error)
    assert interpreter.ended == ["kill"]


def test_a_put_the_interpreter_refuses_is_reported_and_the_interpreter_kept() -> None:
    interpreter, error = put(lambda r: {**put_ok(r), "ok": False, "error": "No space left on device"})
    assert str(error) == "cannot stage 'in.csv': No space left on device"
    assert interpreter.ended == []


def test_a_cancelled_put_abandons_the_interpreter() -> None:
    async def scenario() -> Scripted:
        interpreter = Scripted(hang)
        task = asyncio.create_task(blocks.put_file(interpreter, "in.csv", b"x"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return interpreter

    assert asyncio.run(scenario()).ended == ["abandon"]
