"""Metrics: what the engine's events and the sandbox add up to, in Prometheus's text format."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from types import SimpleNamespace

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from codeloop.execution import Execution, Outcome
from codeloop.loop.events import CodeBlock, CodeResult, Event, Finished, TextDelta, Usage
from codeloop.sandbox.base import SessionCounts, SessionMemory
from codeloop.server.metrics import Metrics
from codeloop.server.telemetry import Telemetry


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def trail() -> AsyncGenerator[Event, None]:
    yield TextDelta("let me compute")
    yield CodeBlock("print(1)")
    yield CodeResult(Execution(Outcome.OUTCOME_OK, "1\n"))
    yield CodeBlock("1/0")
    yield CodeResult(Execution(Outcome.OUTCOME_FAILED, "ZeroDivisionError"))
    yield Finished("STOP", Usage(prompt_tokens=10, candidates_tokens=5, tool_use_prompt_tokens=3))


def test_observe_passes_events_through_and_counts_them() -> None:
    telemetry = Telemetry(Metrics())

    async def run() -> list[Event]:
        return [event async for event in telemetry.observe("scripted", trail())]

    events = asyncio.run(run())
    assert len(events) == 6 and isinstance(events[-1], Finished)
    found = samples(telemetry.metrics)
    assert found[("codeloop_code_executions_total", (("outcome", "OUTCOME_OK"),))] == 1
    assert found[("codeloop_code_executions_total", (("outcome", "OUTCOME_FAILED"),))] == 1
    assert found[("codeloop_code_execution_duration_seconds_count", (("outcome", "OUTCOME_OK"),))] == 1
    tokens = {
        kind: found[("codeloop_tokens_total", (("kind", kind), ("model", "scripted")))]
        for kind in ("prompt", "candidates", "tool_use_prompt")
    }
    assert tokens == {"prompt": 10, "candidates": 5, "tool_use_prompt": 3}


def test_closing_the_observer_closes_the_engine() -> None:
    closed = []

    async def engine() -> AsyncGenerator[Event, None]:
        try:
            yield TextDelta("a")
            yield TextDelta("b")
        finally:
            closed.append(True)

    async def take_one() -> None:
        observed = Telemetry(Metrics()).observe("m", engine())
        await anext(observed)
        await observed.aclose()

    asyncio.run(take_one())
    assert closed == [True]


def test_sandbox_sessions_are_read_at_scrape_time() -> None:
    memory: tuple[SessionMemory, ...] = (SessionMemory(3, 50 << 20), SessionMemory(7, 80 << 20))
    sandbox = SimpleNamespace(
        session_counts=SessionCounts(open=2, spare=1, max_live=64), session_memory=lambda: memory
    )
    metrics = Metrics(lambda: sandbox)
    found = samples(metrics)
    assert found[("codeloop_sandbox_sessions", (("state", "open"),))] == 2
    assert found[("codeloop_sandbox_sessions", (("state", "spare"),))] == 1
    assert found[("codeloop_sandbox_max_sessions", ())] == 64
    assert found[("codeloop_sandbox_session_memory_bytes", (("session", "3"),))] == 50 << 20
    assert found[("codeloop_sandbox_session_memory_bytes", (("session", "7"),))] == 80 << 20
    sandbox.session_counts = SessionCounts(open=3)
    memory = (SessionMemory(7, 90 << 20),)
    found = samples(metrics)
    assert found[("codeloop_sandbox_sessions", (("state", "open"),))] == 3
    assert found[("codeloop_sandbox_sessions", (("state", "spare"),))] == 0
    assert ("codeloop_sandbox_max_sessions", ()) not in found  # an uncapped sandbox has no maximum
    memory_samples = {k: v for k, v in found.items() if k[0] == "codeloop_sandbox_session_memory_bytes"}
    assert memory_samples == {("codeloop_sandbox_session_memory_bytes", (("session", "7"),)): 90 << 20}


def test_no_sandbox_yet_reports_nothing() -> None:
    found = samples(Metrics(lambda: None))
    assert not [name for name, _ in found if name.startswith("codeloop_sandbox")]
