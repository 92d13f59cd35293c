"""open_runtime's order, with a recording sandbox: started after the registry, closed before it."""

from __future__ import annotations

import asyncio

import pytest

from codeloop import runtime as runtime_module
from codeloop.backends.registry import Registry
from codeloop.errors import BackendUnavailable, InvalidRequest, SandboxFailure
from codeloop.runtime import open_runtime
from codeloop.sandbox.base import SessionCounts
from codeloop.settings import Settings


class RecordingSandbox:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def open_session(self) -> object:
        raise AssertionError("not opened here")

    @property
    def session_counts(self) -> SessionCounts:
        return SessionCounts(0)

    async def close(self) -> None:
        self.log.append("sandbox closed")


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    log: list[str] = []

    async def start_sandbox(*_: object) -> RecordingSandbox:
        log.append("sandbox started")
        return RecordingSandbox(log)

    async def aclose(self: Registry) -> None:
        log.append("registry closed")

    monkeypatch.setattr(runtime_module, "start_sandbox", start_sandbox)
    monkeypatch.setattr(Registry, "aclose", aclose)
    return log


def use(model: str, log: list[str]) -> None:
    async def main() -> None:
        async with open_runtime(Settings(model=model)) as runtime:
            log.append("in use")
            assert runtime.registry.canonical("gemini-2.5-pro") == model

    asyncio.run(main())


def test_the_sandbox_closes_before_the_models(log: list[str]) -> None:
    use("scripted", log)
    assert log == ["sandbox started", "in use", "sandbox closed", "registry closed"]


def test_a_default_model_that_fails_to_load_closes_the_started_sandbox(
    log: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def resolve(self: Registry, model: str) -> object:
        raise BackendUnavailable("weights corrupt")

    monkeypatch.setattr(Registry, "resolve", resolve)

    with pytest.raises(BackendUnavailable, match="weights corrupt"):
        use("scripted", log)
    assert log == ["sandbox started", "sandbox closed", "registry closed"]


def test_a_sandbox_that_cannot_start_still_closes_the_models(
    log: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def start_sandbox(*_: object) -> RecordingSandbox:
        raise SandboxFailure("no user namespaces")

    monkeypatch.setattr(runtime_module, "start_sandbox", start_sandbox)

    with pytest.raises(SandboxFailure, match="no user namespaces"):
        use("scripted", log)
    assert log == ["registry closed"]


def test_an_unknown_model_is_refused_before_anything_starts(log: list[str]) -> None:
    with pytest.raises(InvalidRequest, match="Unknown model"):
        use("nope", log)
    assert log == []
