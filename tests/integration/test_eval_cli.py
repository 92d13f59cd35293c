"""`codeloop eval` with the scripted model: a suite whose questions carry the code the model runs, so
every number in the report is known in advance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CODELOOP = str(Path(sys.executable).with_name("codeloop"))

# The scripted model runs each question's ```python blocks, then quotes the last result.
ITEMS = [
    {"id": "product", "question": "```python\nprint(6 * 7)\n```", "answer": "42"},
    {"id": "wrong", "question": "```python\nprint(sum(range(10)))\n```", "answer": "46"},
    {"id": "fails", "question": "```python\nraise ValueError('no')\n```", "answer": "7"},
    {"id": "two-blocks", "question": "```python\nx = 20\n```\n```python\nprint(x + 1)\n```", "answer": "21"},
    {"id": "sleeps", "question": "```python\nimport time\ntime.sleep(30)\n```", "answer": "0"},
    {
        "id": "weekday",
        "question": "```python\nprint('It is Friday')\n```",
        "answer": "friday",
        "kind": "weekday",
    },
]


def codeloop(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CODELOOP, *args], capture_output=True, text=True, timeout=timeout)


def test_eval_both_modes_with_the_scripted_model(tmp_path: Path) -> None:
    suite = tmp_path / "scripted.jsonl"
    suite.write_text("".join(json.dumps(item) + "\n" for item in ITEMS))
    out = tmp_path / "out"
    done = codeloop(
        "eval", "--suite", str(suite), "--model", "scripted", "--split", "all", "--mode", "both",
        "--exec-timeout", "1", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    code = json.loads((out / "scripted-scripted-all-code.json").read_text())
    assert (code["suite"], code["model"], code["mode"], code["split"]) == (
        "scripted",
        "scripted",
        "code",
        "all",
    )
    assert code["settings"]["temperature"] == 0 and code["settings"]["seed"] == 0
    by_id = {item["id"]: item for item in code["items"]}
    assert list(by_id) == [item["id"] for item in ITEMS]
    assert (by_id["product"]["answer"], by_id["product"]["correct"]) == ("42", True)
    assert (by_id["wrong"]["answer"], by_id["wrong"]["correct"]) == ("45", False)
    assert (by_id["fails"]["failures"], by_id["fails"]["correct"]) == (1, False)
    assert (by_id["two-blocks"]["blocks"], by_id["two-blocks"]["answer"]) == (2, "21")
    assert (by_id["sleeps"]["deadlines"], by_id["sleeps"]["correct"]) == (1, False)
    assert (by_id["weekday"]["answer"], by_id["weekday"]["correct"]) == ("Friday", True)
    assert by_id["product"]["code"] == ["print(6 * 7)\n"]
    assert "42" in by_id["product"]["text"]
    for item in code["items"]:
        assert item["tokens"] == item["prompt_tokens"] + item["candidates_tokens"] + item["tool_tokens"] > 0
        assert 0 < item["seconds"] < 30 and item["finish_reason"] == "STOP" and item["error"] is None
    assert by_id["sleeps"]["seconds"] >= 1  # it waited out its one-second deadline
    summary = code["summary"]
    assert (summary["items"], summary["correct"], summary["accuracy"]) == (6, 3, 0.5)
    assert (summary["mean_blocks"], summary["failures"], summary["deadlines"]) == (1.167, 1, 1)
    assert summary["errors"] == 0

    no_code = json.loads((out / "scripted-scripted-all-no-code.json").read_text())
    assert (no_code["summary"]["correct"], no_code["summary"]["mean_blocks"]) == (0, 0)
    assert all("not enabled" in item["text"] and item["answer"] is None for item in no_code["items"])

    chart = out / "scripted-scripted-all-compare.png"
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert "50.0%" in done.stdout and "0.0%" in done.stdout
    assert str(chart) in done.stdout


def test_a_run_in_one_mode_charts_once_the_other_is_there(tmp_path: Path) -> None:
    suite = tmp_path / "one.jsonl"
    suite.write_text(json.dumps(ITEMS[0]) + "\n")
    args = ["eval", "--suite", str(suite), "--model", "scripted", "--split", "all", "--out", str(tmp_path)]
    first = codeloop(*args, "--no-code")
    assert first.returncode == 0, first.stderr
    assert not (tmp_path / "one-scripted-all-compare.png").exists()
    second = codeloop(*args)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "one-scripted-all-compare.png").exists()


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    unknown = codeloop("eval", "--suite", "nope", "--model", "scripted", "--out", str(tmp_path))
    assert unknown.returncode == 2 and "gsm8k" in unknown.stderr and "Traceback" not in unknown.stderr
    both = codeloop("eval", "--suite", "gsm8k", "--no-code", "--mode", "code", "--out", str(tmp_path))
    assert both.returncode == 2 and "--no-code" in both.stderr
