"""Running one block on an interpreter process, the same for every kind of session."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, Protocol

from codeloop.errors import SandboxFailure
from codeloop.sandbox.execution import Execution, Outcome
from codeloop.sandbox.output import Output, decode_files, decode_stats
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
        stats = decode_stats(reply)
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
    return Execution(outcome, output.text(reply["trailer"]), files, stats)


# Input files travel in pieces, each frame well under MAX_MESSAGE_BYTES once in base64.
PUT_PIECE_BYTES = 16 << 20


async def put_file(interpreter: Interpreter, name: str, data: bytes) -> None:
    """Write a file into the interpreter's working dir; SandboxFailure if it cannot be staged."""
    for start in range(0, max(len(data), 1), PUT_PIECE_BYTES):
        piece = base64.b64encode(data[start : start + PUT_PIECE_BYTES]).decode("ascii")
        frame = encode({"type": "put", "name": name, "data": piece, "append": start > 0})
        try:
            reply = await interpreter.request(frame, "put")
        except (ProtocolError, OSError) as exc:
            await interpreter.kill()
            raise SandboxFailure(f"cannot stage {name!r}: {exc}") from exc
        if not reply.get("ok"):
            raise SandboxFailure(f"cannot stage {name!r}: {reply.get('error')}")
