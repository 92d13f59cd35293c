"""Where model-written code runs: the Sandbox/Session interface and its implementations."""

from codeloop.execution import Execution, NamedFile
from codeloop.sandbox.base import Sandbox, Session
from codeloop.sandbox.factory import create_sandbox, start_sandbox
from codeloop.sandbox.forkserver import ForkSandbox
from codeloop.sandbox.limits import Limits, SandboxConfig
from codeloop.sandbox.process import ProcessSandbox

__all__ = [
    "Execution",
    "ForkSandbox",
    "Limits",
    "NamedFile",
    "ProcessSandbox",
    "Sandbox",
    "SandboxConfig",
    "Session",
    "create_sandbox",
    "start_sandbox",
]
