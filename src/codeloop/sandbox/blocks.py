"""Running one block on an interpreter process, the same for every kind of session."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from codeloop.sandbox.execution import Execution, Outcome
from codeloop.sandbox.output import Output, decode_files
from codeloop.sandbox.protocol import ProtocolError, encode


class Interpreter(Protocol):
    """One interpreter process as the server sees it."""

    output: Output

    async def request(self, frame: bytes, kind: str) -> dict[str, Any]:
        """Send a frame; the reply of that kind, or ProtocolError if the process dies or garbles it first."""
        ...

    async def kill(self) -> None: ...

    async def post_mortem(self, exc: Exception) -> str:
        """Make sure it is dead; say how it died ("exited with code 3")."""
        ...

    def abandon(self) -> None:
        """kill() for when awaiting is not possible."""
        ...


async def run_block(interpreter: Interpreter, code: str, timeout_s: float, output_bytes: int) -> Execution:
    """The block's Execution. After a deadline or a crash the interpreter is dead and its state lost."""
    try:
        request = encode({"type": "run", "code": code, "output_bytes": output_bytes})
    except ProtocolError as exc:
        return Execution(Outcome.OUTCOME_FAILED, f"The code block was not run: {exc}.\n")
    output = interpreter.output
    output.start(output_bytes)
    try:
        async with asyncio.timeout(timeout_s):
            reply = await interpreter.request(request, "result")
        files = decode_files(reply)
    except TimeoutError:
        await interpreter.kill()
        note = (
            f"Execution timed out after {timeout_s:g} s; the interpreter was restarted and its state lost.\n"
        )
        return Execution(Outcome.OUTCOME_DEADLINE_EXCEEDED, output.text(note))
    except (ProtocolError, OSError) as exc:
        how = await interpreter.post_mortem(exc)
        note = f"The interpreter {how}; it was restarted and its state lost.\n"
        return Execution(Outcome.OUTCOME_FAILED, output.text(note))
    except BaseException:
        interpreter.abandon()  # cancelled mid-block: its state is unknown, so it must not serve another
        raise
    output.stop()
    outcome = Outcome.OUTCOME_OK if reply["ok"] else Outcome.OUTCOME_FAILED
    return Execution(outcome, output.text(reply["trailer"]), files)
