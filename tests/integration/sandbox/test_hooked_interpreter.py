"""A block that rewires its own session process: staging files into it still meets a deadline."""

from __future__ import annotations

import asyncio
import time

import pytest

from codeloop.errors import StagingFailed
from codeloop.sandbox import ForkSandbox, Limits, ProcessSandbox, SandboxConfig, blocks

LIMITS = Limits(timeout_s=10.0, output_bytes=64 * 1024, memory_mib=256, pids=64, disk_mib=32, file_mib=32)
# User code shares its process with the protocol's handlers, and can replace any of them.
HOOK_PUT = (
    "import sys, time\n"
    "frame = sys._getframe()\n"
    "while frame.f_code.co_name != 'serve':\n"
    "    frame = frame.f_back\n"
    "frame.f_globals['_put_file'] = lambda *args: time.sleep(3600)\n"
)


@pytest.mark.parametrize("kind", ["process", "fork"])
def test_a_put_handler_that_never_answers_meets_the_deadline(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blocks, "PUT_TIMEOUT_S", 0.5)

    async def main() -> None:
        if kind == "process":
            sandbox: ProcessSandbox | ForkSandbox = ProcessSandbox(LIMITS)
        else:
            sandbox = ForkSandbox(LIMITS, SandboxConfig(preload=(), spare_sessions=0))
        try:
            session = await sandbox.open_session()
            assert (await session.run(HOOK_PUT)).ok
            started = time.monotonic()
            async with asyncio.timeout(30):  # before, staging waited forever
                with pytest.raises(StagingFailed, match=r"did not take it within 0\.5 s; it was restarted"):
                    await session.put_file("in.csv", b"a,b\n")
            assert time.monotonic() - started < 10
            await session.put_file("in.csv", b"a,b\n")  # into the interpreter that replaced it
            after = await session.run("print(open('in.csv').read(), 'frame' in globals())")
            assert after.output == "a,b\n False\n"
        finally:
            await sandbox.close()

    asyncio.run(main())
