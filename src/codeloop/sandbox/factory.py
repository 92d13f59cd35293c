"""The one place that picks the sandbox: isolated by default, plain processes only when asked."""

from __future__ import annotations

import logging

from codeloop.sandbox.base import Sandbox
from codeloop.sandbox.forkserver import ForkSandbox
from codeloop.sandbox.limits import Limits, SandboxConfig
from codeloop.sandbox.process import ProcessSandbox

log = logging.getLogger("codeloop.sandbox")


def create_sandbox(limits: Limits, config: SandboxConfig) -> ForkSandbox | ProcessSandbox:
    """A ForkSandbox (call its start() to fail fast), or with insecure_no_sandbox a ProcessSandbox."""
    if config.insecure_no_sandbox:
        log.warning(
            "sandbox: --insecure-no-sandbox: model-written code runs as this server's user, "
            "with its files, network and environment"
        )
        return ProcessSandbox(limits, config)
    return ForkSandbox(limits, config)


async def start_sandbox(limits: Limits, config: SandboxConfig) -> Sandbox:
    """create_sandbox, started: raises SandboxFailure (with what to do) where isolation is impossible."""
    sandbox = create_sandbox(limits, config)
    try:
        await sandbox.start()
    except BaseException:
        await sandbox.close()
        raise
    return sandbox
