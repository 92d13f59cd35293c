"""Where model-written code runs: the Sandbox/Session interface and its implementations."""

from codeloop.sandbox.base import Sandbox, Session
from codeloop.sandbox.execution import Execution, OutputFile
from codeloop.sandbox.limits import Limits
from codeloop.sandbox.process import ProcessSandbox

__all__ = ["Execution", "Limits", "OutputFile", "ProcessSandbox", "Sandbox", "Session"]
