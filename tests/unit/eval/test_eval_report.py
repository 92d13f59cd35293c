"""The report's summary, its file names, and the comparison chart."""

from __future__ import annotations

from pathlib import Path

from codeloop.eval.chart import compare
from codeloop.eval.items import Record
from codeloop.eval.report import Mode, build_report, read_report, report_path, summarize, write_report


def record(
    correct: bool, blocks: int = 0, failures: int = 0, seconds: float = 1.0, error: str | None = None
) -> Record:
    return Record(
        id="x", question="q", expected="1", answer="1" if correct else None, correct=correct, blocks=blocks,
        failures=failures, deadlines=0, prompt_tokens=10, candidates_tokens=5, tool_tokens=1, tokens=16,
        seconds=seconds, finish_reason="STOP", text="", error=error,
    )  # fmt: skip


def test_summary() -> None:
    summary = summarize(
        [record(True, 2, 1, 1.0), record(False, 1, 0, 2.0), record(False, seconds=3.0, error="E")]
    )
    assert (summary.items, summary.correct, summary.accuracy) == (3, 1, 0.3333)
    assert (summary.mean_blocks, summary.failures, summary.errors) == (1.0, 1, 1)
    assert (summary.mean_tokens, summary.mean_generated_tokens) == (16, 5)
    assert (summary.mean_seconds, summary.total_seconds) == (2.0, 6.0)
    assert summarize([]).accuracy == 0.0


def test_reports_are_named_so_the_other_mode_is_found(tmp_path: Path) -> None:
    path = report_path(tmp_path, "gsm8k", "openai:qwen/7b", "test", "code")
    assert path.name == "gsm8k-openai_qwen_7b-test-code.json"
    assert compare(tmp_path, "gsm8k", "openai:qwen/7b", "test") is None
    modes: tuple[tuple[Mode, bool], ...] = (("code", True), ("no-code", False))
    for mode, correct in modes:
        report = build_report("gsm8k", "openai:qwen/7b", mode, "test", [record(correct)], {"seed": 0})
        write_report(report_path(tmp_path, "gsm8k", "openai:qwen/7b", "test", mode), report)
    again = read_report(path)
    assert again is not None and again["summary"]["accuracy"] == 1.0 and again["items"][0]["id"] == "x"
    chart = compare(tmp_path, "gsm8k", "openai:qwen/7b", "test")
    assert chart == tmp_path / "gsm8k-openai_qwen_7b-test-compare.png"
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[1, 2]")
    assert read_report(tmp_path / "x.json") is None
    assert read_report(tmp_path / "missing.json") is None
