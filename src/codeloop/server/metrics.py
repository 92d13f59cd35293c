"""Prometheus metrics of one app: HTTP requests, code executions, tokens and the sandbox's sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from codeloop.loop.events import Usage

# Generation takes seconds to minutes; the default buckets stop at 10 s.
_SLOW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, float("inf"))


class Metrics:
    """Each app has its own registry, so that several apps in one process (the tests) never collide."""

    def __init__(self, sandbox_of: Callable[[], Any] = lambda: None) -> None:
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

    def count_usage(self, model: str, usage: Usage) -> None:
        self.tokens.labels(model, "prompt").inc(usage.prompt_tokens)
        self.tokens.labels(model, "candidates").inc(usage.candidates_tokens)
        self.tokens.labels(model, "tool_use_prompt").inc(usage.tool_use_prompt_tokens)


class SandboxCollector(Collector):
    """The sandbox's sessions, read at scrape time; a sandbox that does not say how many reports nothing."""

    def __init__(self, sandbox_of: Callable[[], Any]) -> None:
        self.sandbox_of = sandbox_of

    def collect(self) -> Iterator[Metric]:
        sandbox = self.sandbox_of()
        # The sandbox seam has no count of its own (yet): read what ForkSandbox and ProcessSandbox hold.
        sessions = getattr(sandbox, "_sessions", None)
        if sessions is None:
            return
        family = GaugeMetricFamily(
            "codeloop_sandbox_sessions",
            "Sandbox sessions by state: open (held by a request) or spare (started ahead of demand).",
            labels=["state"],
        )
        family.add_metric(["open"], len(sessions))
        family.add_metric(["spare"], len(getattr(sandbox, "_spares", ())))
        yield family
        config = getattr(sandbox, "config", None)
        if config is not None and hasattr(config, "max_sessions"):
            yield GaugeMetricFamily(
                "codeloop_sandbox_max_sessions",
                "Live interpreters before the least recently used idle one is reset.",
                value=config.max_sessions,
            )
