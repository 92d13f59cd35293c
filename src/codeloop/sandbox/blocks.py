"""Running one block on an interpreter process, the same for every kind of session."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, Protocol

from codeloop.errors import StagingFailed
from codeloop.execution import Execution, Outcome
from codeloop.sandbox import replies
from codeloop.sandbox.output import Listener, Output
from codeloop.sandbox.protocol import InvalidMessage, ProtocolError, encode

# Results carrying more base64 than this are decoded in a thread.
_INLINE_DECODE_BYTES = 64 << 10
# How long the interpreter gets to stage one piece of an input file: an idle one takes milliseconds.
PUT_TIMEOUT_S = 10.0
# Input files travel in pieces, each frame well under MAX_MESSAGE_BYTES once in base64.
PUT_PIECE_BYTES = 16 << 20


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


async def run_block(
    interpreter: Interpreter,
    code: str,
    timeout_s: float,
    output_bytes: int,
    on_output: Listener | None = None,
) -> Execution:
    """The block's Execution. After a deadline, a crash or a reply that cannot be believed, the
    interpreter is dead and its state lost. `on_output` hears the output as the block prints it.

    Live output is the pipe's bytes and nothing else: it passes no message of the interpreter's,
    so a hostile block can print what it likes but never forge a result."""
    request_id = replies.new_id()
    try:
        request = encode({"type": "run", "id": request_id, "code": code, "output_bytes": output_bytes})
    except ProtocolError as exc:
        return Execution(Outcome.OUTCOME_FAILED, f"The code block was not run: {exc}.\n")
    output = interpreter.output
    output.start(output_bytes, on_output)
    try:
        async with asyncio.timeout(timeout_s):
            reply = await interpreter.request(request, "result")
            if replies.carried_bytes(reply) > _INLINE_DECODE_BYTES:
                result = await asyncio.to_thread(replies.result, reply, request_id)
            else:
                result = replies.result(reply, request_id)
    except TimeoutError:
        await interpreter.kill()
        note = (
            f"Execution timed out after {timeout_s:g} s; the interpreter was restarted and its state lost.\n"
        )
        return Execution(Outcome.OUTCOME_DEADLINE_EXCEEDED, output.text(note))
    except InvalidMessage as exc:
        await interpreter.kill()
        note = f"The interpreter broke the sandbox protocol ({exc}); it was restarted and its state lost.\n"
        return Execution(Outcome.OUTCOME_FAILED, output.text(note))
    except (ProtocolError, OSError) as exc:
        how = await interpreter.post_mortem(exc)
        note = f"The interpreter {how}; it was restarted and its state lost.\n"
        return Execution(Outcome.OUTCOME_FAILED, output.text(note))
    except BaseException:
        interpreter.abandon()  # cancelled mid-block: its state is unknown, so it must not serve another
        raise
    output.stop()
    outcome = Outcome.OUTCOME_OK if result.ok else Outcome.OUTCOME_FAILED
    return Execution(outcome, output.text(result.trailer), result.files, result.stats)


async def put_file(interpreter: Interpreter, name: str, data: bytes) -> None:
    """Write a file into the interpreter's working dir; StagingFailed if it cannot be staged."""
    for start in range(0, max(len(data), 1), PUT_PIECE_BYTES):
        request_id = replies.new_id()
        piece = base64.b64encode(data[start : start + PUT_PIECE_BYTES]).decode("ascii")
        frame = encode({"type": "put", "id": request_id, "name": name, "data": piece, "append": start > 0})
        try:
            async with asyncio.timeout(PUT_TIMEOUT_S):
                reply = await interpreter.request(frame, "put")
            error = replies.put_error(reply, request_id)
        except TimeoutError:
            await interpreter.kill()
            raise StagingFailed(
                f"cannot stage {name!r}: the interpreter did not take it within {PUT_TIMEOUT_S:g} s; "
                "it was restarted and its state lost"
            ) from None
        except InvalidMessage as exc:
            await interpreter.kill()
            raise StagingFailed(
                f"cannot stage {name!r}: the interpreter broke the sandbox protocol ({exc}); "
                "it was restarted and its state lost"
            ) from None
        except (ProtocolError, OSError) as exc:
            how = await interpreter.post_mortem(exc)
            raise StagingFailed(
                f"cannot stage {name!r}: the interpreter {how}; it was restarted and its state lost"
            ) from exc
        except BaseException:
            interpreter.abandon()  # cancelled mid-request: its reply would answer the next one
            raise
        if error is not None:
            raise StagingFailed(f"cannot stage {name!r}: {error}")
