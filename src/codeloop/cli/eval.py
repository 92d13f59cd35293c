"""`codeloop eval`: run a benchmark through the loop, with and without code execution, and report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codeloop.cli.options import add_settings_flags, settings_from
from codeloop.errors import InvalidRequest
from codeloop.eval.items import Record
from codeloop.eval.report import MODES, Mode
from codeloop.eval.suites import SUITES

if TYPE_CHECKING:
    from codeloop.eval.evaluation import Started

EPILOG = """\
suites:
{suites}
  FILE.jsonl   your own: one {{"id", "question", "answer"}} object per line, optionally "kind"
               (number, weekday, date, text) and "attachments" ([{{"mime_type", "data": base64}}])

Items are split by a hash of their id: about 30% dev, for tuning prompts and settings, and the
rest test, the one to report. Decoding is greedy with a fixed seed. A number is read from the
final text ("#### N", \\boxed{{N}}, "the answer is N", a bold number, else the last number), or
from the last code output when the text has none; a string answer counts when the final text
quotes it or has it as a whole word, or else the last code output has it; HumanEval code runs
against the problem's tests in a sandbox session. Reports go to
OUT/<suite>-<model>-<split>-<mode>.json; once OUT holds both modes' reports for a suite, model and
split, OUT/<suite>-<model>-<split>-compare.png charts them."""


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
        parser,
        *("model", "exec_timeout", "max_code_blocks", "threads", "upstream_url", "insecure_no_sandbox"),
        *("compute_first", "ground_numbers", "restore_quotes", "votes", "result_style"),
    )
    parser.set_defaults(run=run)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def run(args: argparse.Namespace) -> int:
    from codeloop.eval.evaluation import Plan, evaluate

    if args.no_code and args.mode not in (None, "no-code"):
        raise InvalidRequest(f"--no-code contradicts --mode {args.mode}.")
    mode = "no-code" if args.no_code else args.mode or "code"
    plan = Plan(
        suite=args.suite,
        modes=MODES if mode == "both" else (cast(Mode, mode),),
        split=args.split,
        limit=args.limit,
        workers=args.workers,
        out=args.out,
        max_output_tokens=args.max_output_tokens,
    )
    console = Console(highlight=False)
    evaluation = asyncio.run(
        evaluate(settings_from(args), plan, _ConsoleWatch(console, Console(stderr=True)))
    )
    if evaluation.chart:
        console.print(f"chart: {evaluation.chart}", soft_wrap=True)
    console.print(_table(evaluation.reports))
    return 1 if evaluation.errors else 0


class _ConsoleWatch:
    """The run as it goes: what runs on stdout, a progress bar per mode on stderr, each report's path."""

    def __init__(self, console: Console, status: Console) -> None:
        self.console = console
        self.status = status
        self.suite = ""

    def started(self, started: Started) -> None:
        self.suite = started.suite
        self.console.print(
            f"{started.suite}: {started.items} {started.split} items of {started.of}, model {started.model}"
        )

    @contextlib.contextmanager
    def mode(self, mode: Mode, items: int) -> Iterator[Callable[[Record], None]]:
        with _progress(self.status) as progress:
            task = progress.add_task(f"{self.suite} {mode}", total=items, score="")
            correct = done = 0

            def advance(record: Record) -> None:
                nonlocal correct, done
                correct, done = correct + record.correct, done + 1
                progress.update(task, advance=1, score=f"{correct}/{done} correct")
                if not self.status.is_terminal:  # a log file gets a line per item instead of a bar
                    mark = "right" if record.correct else "wrong"
                    self.status.print(
                        f"{mode} {done}/{items} {record.id}: {mark} ({record.answer!r}, "
                        f"expected {record.expected!r}) {record.seconds:.1f} s",
                        soft_wrap=True,
                        markup=False,
                    )

            yield advance

    def reported(self, mode: Mode, path: Path) -> None:
        self.console.print(f"report: {path}", soft_wrap=True)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[score]}"),
        TimeElapsedColumn(),
        console=console,
    )


def _table(reports: Mapping[Mode, dict[str, Any]]) -> Table:
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
