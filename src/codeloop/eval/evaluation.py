"""One evaluation: a suite's split run through the loop in each mode asked for, a report written per
mode, and the chart once both modes' reports are there."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from codeloop.eval.chart import compare
from codeloop.eval.items import Record
from codeloop.eval.report import MODES, Mode, build_report, report_path, write_report
from codeloop.eval.runner import GREEDY, run_suite
from codeloop.eval.split import Split, select
from codeloop.eval.suites import load_suite
from codeloop.runtime import open_runtime, registry_for
from codeloop.settings import Settings


@dataclass(frozen=True)
class Plan:
    """What to run: a suite by name (or FILE.jsonl), its split, the modes, and where reports go."""

    suite: str
    modes: tuple[Mode, ...] = MODES
    split: Split = "test"
    limit: int | None = None  # the split's first N items
    workers: int = 1  # items run at once
    out: Path = Path("eval-results")
    max_output_tokens: int = 1024  # per item, every turn included


@dataclass(frozen=True)
class Started:
    """What is about to run: the suite, the model's canonical name, the items chosen of the suite's."""

    suite: str
    model: str
    split: Split
    items: int
    of: int


@dataclass(frozen=True)
class Evaluation:
    """Each mode's report, where it was written, and the chart when both modes' reports exist."""

    reports: dict[Mode, dict[str, Any]]
    paths: dict[Mode, Path]
    chart: Path | None

    @property
    def errors(self) -> bool:
        """Whether the loop raised on any item."""
        return any(report["summary"]["errors"] for report in self.reports.values())


class Watch(Protocol):
    """Who follows the run as it goes (the CLI's console)."""

    def started(self, started: Started) -> None: ...

    def mode(self, mode: Mode, items: int) -> AbstractContextManager[Callable[[Record], None]]:
        """Entered for the length of one mode's run; what it gives sees each record as it is done."""
        ...

    def reported(self, mode: Mode, path: Path) -> None: ...


async def evaluate(settings: Settings, plan: Plan, watch: Watch) -> Evaluation:
    """Run the plan with settings' model, sandbox and loop limits, greedy, with a fixed seed."""
    suite = load_suite(plan.suite)
    items = select(suite.items, plan.split, plan.limit)
    registry = registry_for(settings)
    model = registry.canonical(settings.model)
    sampling = dataclasses.replace(GREEDY, max_tokens=plan.max_output_tokens)
    run_settings = {
        "limit": plan.limit,
        "workers": plan.workers,
        "max_code_blocks": settings.max_code_blocks,
        "exec_timeout": settings.exec_timeout,
        "temperature": sampling.temperature,
        "seed": sampling.seed,
        "max_output_tokens": sampling.max_tokens,
        "insecure_no_sandbox": settings.insecure_no_sandbox,
        "compute_first": settings.compute_first,
        "ground_numbers": settings.ground_numbers,
        "restore_quotes": settings.restore_quotes,
        "votes": settings.votes,
        "result_style": settings.result_style,
    }
    watch.started(Started(suite.name, model, plan.split, len(items), len(suite.items)))
    reports: dict[Mode, dict[str, Any]] = {}
    paths: dict[Mode, Path] = {}
    async with open_runtime(settings, registry) as runtime:
        engine = await runtime.engine(settings.model)
        for mode in plan.modes:
            with watch.mode(mode, len(items)) as on_record:
                records = await run_suite(
                    engine,
                    suite,
                    items,
                    code_execution=mode == "code",
                    workers=plan.workers,
                    sampling=sampling,
                    on_record=on_record,
                )
            reports[mode] = build_report(suite.name, model, mode, plan.split, records, run_settings)
            paths[mode] = write_report(
                report_path(plan.out, suite.name, model, plan.split, mode), reports[mode]
            )
            watch.reported(mode, paths[mode])
    return Evaluation(reports, paths, compare(plan.out, suite.name, model, plan.split))
