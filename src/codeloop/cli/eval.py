"""`codeloop eval`: run a benchmark through the loop, with and without code execution, and report."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path
from typing import Any, cast

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from codeloop.cli.options import add_settings_flags, settings_from
from codeloop.errors import InvalidRequest
from codeloop.eval.items import Record
from codeloop.eval.report import MODES, Mode
from codeloop.eval.suites import SUITES

EPILOG = """\
suites:
{suites}
  FILE.jsonl   your own: one {{"id", "question", "answer"}} object per line

Items are split by a hash of their id: about 30% dev, for tuning prompts and settings, and the
rest test, the one to report. Decoding is greedy with a fixed seed. A number is read from the
final text ("#### N", \\boxed{{N}}, "the answer is N", a bold number, else the last number), or
from the last code output when the text has none; HumanEval code runs against the problem's tests
in a sandbox session. Reports go to OUT/<suite>-<model>-<split>-<mode>.json; once OUT holds both
modes' reports for a suite, model and split, OUT/<suite>-<model>-<split>-compare.png charts them."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    suites = "\n".join(f"  {name:<12} {text}" for name, (text, _) in SUITES.items())
    parser.epilog = EPILOG.format(suites=suites)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--suite", required=True, help="Suite name or FILE.jsonl (see below).")
    parser.add_argument(
        "--mode", choices=[*MODES, "both"], default=None, help="With code execution, without, or both (code)."
    )
    parser.add_argument("--no-code", action="store_true", help="Same as --mode no-code.")
    parser.add_argument(
        "--split", choices=["dev", "test", "all"], default="test", help="Items to run (test)."
    )
    parser.add_argument(
        "--limit", type=_count, default=None, metavar="N", help="Run only the split's first N items."
    )
    parser.add_argument("--workers", type=_count, default=1, metavar="K", help="Items run at once (1).")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("eval-results"),
        metavar="DIR",
        help="Report directory (eval-results).",
    )
    parser.add_argument(
        "--max-output-tokens",
        type=_count,
        default=1024,
        metavar="N",
        help="Tokens the model may write per item, all turns (1024).",
    )
    add_settings_flags(
        parser, "model", "exec_timeout", "max_code_blocks", "threads", "upstream_url", "insecure_no_sandbox"
    )
    parser.set_defaults(run=run)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def run(args: argparse.Namespace) -> int:
    if args.no_code and args.mode not in (None, "no-code"):
        raise InvalidRequest(f"--no-code contradicts --mode {args.mode}.")
    return asyncio.run(_eval(args))


async def _eval(args: argparse.Namespace) -> int:
    from codeloop.backends.registry import Registry
    from codeloop.eval.chart import compare
    from codeloop.eval.report import build_report, report_path, write_report
    from codeloop.eval.runner import GREEDY, run_suite
    from codeloop.eval.split import select
    from codeloop.eval.suites import load_suite
    from codeloop.loop.engine import Engine
    from codeloop.sandbox.factory import start_sandbox

    mode = "no-code" if args.no_code else args.mode or "code"
    modes: list[Mode] = list(MODES) if mode == "both" else [cast(Mode, mode)]
    suite = load_suite(args.suite)
    items = select(suite.items, args.split, args.limit)
    settings = settings_from(args)
    registry = Registry(settings.model, options=settings.backend_options)
    model = registry.canonical(settings.model)
    sampling = dataclasses.replace(GREEDY, max_tokens=args.max_output_tokens)
    run_settings = {
        "limit": args.limit,
        "workers": args.workers,
        "max_code_blocks": settings.max_code_blocks,
        "exec_timeout": settings.exec_timeout,
        "temperature": sampling.temperature,
        "seed": sampling.seed,
        "max_output_tokens": sampling.max_tokens,
        "insecure_no_sandbox": settings.insecure_no_sandbox,
    }
    console, status = Console(highlight=False), Console(stderr=True)
    console.print(f"{suite.name}: {len(items)} {args.split} items of {len(suite.items)}, model {model}")
    backend = await asyncio.to_thread(registry.resolve, settings.model)
    sandbox = await start_sandbox(settings.sandbox_limits, settings.sandbox_config)
    reports: dict[str, dict[str, Any]] = {}
    try:
        engine = Engine(backend, sandbox, settings.loop_limits)
        for each in modes:
            with _progress(status) as progress:
                task = progress.add_task(f"{suite.name} {each}", total=len(items), score="")
                correct = done = 0

                def advance(record: Record, task: TaskID = task) -> None:
                    nonlocal correct, done
                    correct, done = correct + record.correct, done + 1
                    progress.update(task, advance=1, score=f"{correct}/{done} correct")

                records = await run_suite(
                    engine, suite, items, each == "code", args.workers, sampling, on_record=advance
                )
            report = build_report(suite.name, model, each, args.split, records, run_settings)
            path = write_report(report_path(args.out, suite.name, model, args.split, each), report)
            reports[each] = report
            console.print(f"report: {path}", soft_wrap=True)
    finally:
        await sandbox.close()
        await registry.aclose()
    if chart := compare(args.out, suite.name, model, args.split):
        console.print(f"chart: {chart}", soft_wrap=True)
    console.print(_table(reports))
    return 1 if any(report["summary"]["errors"] for report in reports.values()) else 0


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[score]}"),
        TimeElapsedColumn(),
        console=console,
    )


def _table(reports: dict[str, dict[str, Any]]) -> Table:
    table = Table(
        "mode",
        "accuracy",
        "correct",
        "blocks",
        "failed",
        "deadline",
        "errors",
        "tokens",
        "seconds",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
        show_edge=False,
        title="per item: blocks (code blocks run), tokens, seconds",
    )
    for mode, report in reports.items():
        s = report["summary"]
        table.add_row(
            mode,
            f"{s['accuracy']:.1%}",
            f"{s['correct']}/{s['items']}",
            f"{s['mean_blocks']:.2f}",
            str(s["failures"]),
            str(s["deadlines"]),
            str(s["errors"]),
            f"{s['mean_tokens']:.0f}",
            f"{s['mean_seconds']:.1f}",
        )
    return table
