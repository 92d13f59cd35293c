"""The JSON report of one run of one suite in one mode: what was run, the summary, a record per item.

Reports are named `<suite>-<model>-<split>-<mode>.json` in the output directory, so that a run in
the other mode finds its counterpart there (chart.py compares the two).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from codeloop import __version__
from codeloop.eval.items import Record

Mode = Literal["code", "no-code"]
MODES: tuple[Mode, ...] = ("code", "no-code")


@dataclass(frozen=True)
class Summary:
    items: int
    correct: int
    accuracy: float
    mean_blocks: float  # code blocks run per item: the loop's iterations
    failures: int  # blocks that failed, over all items
    deadlines: int  # blocks stopped at their deadline, over all items
    errors: int  # items whose loop raised
    mean_tokens: float  # prompt + generated + tool tokens per item
    mean_generated_tokens: float
    mean_seconds: float
    total_seconds: float


def summarize(records: Sequence[Record]) -> Summary:
    count = len(records)

    def mean(values: Sequence[float]) -> float:
        return round(sum(values) / count, 3) if count else 0.0

    correct = sum(record.correct for record in records)
    return Summary(
        items=count,
        correct=correct,
        accuracy=round(correct / count, 4) if count else 0.0,
        mean_blocks=mean([record.blocks for record in records]),
        failures=sum(record.failures for record in records),
        deadlines=sum(record.deadlines for record in records),
        errors=sum(record.error is not None for record in records),
        mean_tokens=mean([record.tokens for record in records]),
        mean_generated_tokens=mean([record.candidates_tokens for record in records]),
        mean_seconds=mean([record.seconds for record in records]),
        total_seconds=round(sum(record.seconds for record in records), 3),
    )


def build_report(
    suite: str,
    model: str,
    mode: Mode,
    split: str,
    records: Sequence[Record],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "suite": suite,
        "model": model,
        "mode": mode,
        "split": split,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "codeloop": __version__,
        "settings": dict(settings),
        "summary": dataclasses.asdict(summarize(records)),
        "items": [dataclasses.asdict(record) for record in records],
    }


def report_path(out: Path, suite: str, model: str, split: str, mode: Mode) -> Path:
    return out / f"{run_name(suite, model, split)}-{mode}.json"


def run_name(suite: str, model: str, split: str) -> str:
    """What a run's files are named after: `<suite>-<model>-<split>`."""
    return f"{_slug(suite)}-{_slug(model)}-{split}"


def write_report(path: Path, report: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path


def read_report(path: Path) -> dict[str, Any] | None:
    """A report written earlier, or None when there is none (or it is not one)."""
    try:
        report = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and "summary" in report else None


def _slug(name: str) -> str:
    return re.sub(r"[^\w.+-]+", "_", name)
