"""Prometheus metrics of one app: HTTP requests, code executions, tokens, the sandbox's sessions, and
what each API key holds."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from codeloop.loop.events import Usage
from codeloop.sandbox.base import Sandbox
from codeloop.server.usage import KeyUsage, UsageCollector

# Generation takes seconds to minutes; the default buckets stop at 10 s.
_SLOW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, float("inf"))


class Metrics:
    """Each app has its own registry, so that several apps in one process (the tests) never collide."""

    def __init__(
        self,
        sandbox_of: Callable[[], Sandbox | None] = lambda: None,
        usage_of: Callable[[], dict[str, KeyUsage] | None] = lambda: None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "codeloop_http_requests",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "codeloop_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response (a stream's last chunk).",
            ["route", "method"],
            buckets=_SLOW_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "codeloop_http_requests_in_flight", "Requests being answered now.", registry=self.registry
        )
        self.executions = Counter(
            "codeloop_code_executions",
            "Code blocks run for the model, by outcome (OUTCOME_OK, OUTCOME_FAILED, ...).",
            ["outcome"],
            registry=self.registry,
        )
        self.execution_duration = Histogram(
            "codeloop_code_execution_duration_seconds",
            "Time from a code block's end to its result, by outcome.",
            ["outcome"],
            buckets=_SLOW_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "codeloop_tokens",
            "Tokens by model and kind: prompt, candidates, or tool_use_prompt (code results fed back).",
            ["model", "kind"],
            registry=self.registry,
        )
        self.registry.register(SandboxCollector(sandbox_of))
        self.registry.register(UsageCollector(usage_of))

    def count_usage(self, model: str, usage: Usage) -> None:
        self.tokens.labels(model, "prompt").inc(usage.prompt_tokens)
        self.tokens.labels(model, "candidates").inc(usage.candidates_tokens)
        self.tokens.labels(model, "tool_use_prompt").inc(usage.tool_use_prompt_tokens)


class SandboxCollector(Collector):
    """The sandbox's sessions, read at scrape time; nothing before the sandbox has started."""

    def __init__(self, sandbox_of: Callable[[], Sandbox | None]) -> None:
        self.sandbox_of = sandbox_of

    def collect(self) -> Iterator[Metric]:
        sandbox = self.sandbox_of()
        if sandbox is None:
            return
        counts = sandbox.session_counts
        family = GaugeMetricFamily(
            "codeloop_sandbox_sessions",
            "Sandbox sessions by state: open (held by a request) or spare (started ahead of demand).",
            labels=["state"],
        )
        family.add_metric(["open"], counts.open)
        family.add_metric(["spare"], counts.spare)
        yield family
        if counts.max_live is not None:
            yield GaugeMetricFamily(
                "codeloop_sandbox_max_sessions",
                "Live interpreters before the least recently used idle one is reset.",
                value=counts.max_live,
            )
        memory = GaugeMetricFamily(
            "codeloop_sandbox_session_memory_bytes",
            "Memory of each live session: its cgroup's usage (working dir included), else its "
            "interpreter's resident set.",
            labels=["session"],
        )
        for used in sandbox.session_memory():
            label = f"{used.node}/{used.session}" if used.node else str(used.session)
            memory.add_metric([label], used.bytes)
        yield memory
