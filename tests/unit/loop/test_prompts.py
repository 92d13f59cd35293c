from __future__ import annotations

from pathlib import Path

from codeloop.backends.base import Message
from codeloop.loop import prompts
from codeloop.wire.request import parse_generate_request

CHAT_BODY = (Path(__file__).parents[2] / "conformance" / "seed" / "chat_body.txt").read_bytes()


def test_the_seed_chat_is_replayed_faithfully() -> None:
    request = parse_generate_request(CHAT_BODY)
    messages = prompts.render(request.contents, None, request.code_execution)
    assert messages == [
        Message("system", prompts.CODE_EXECUTION_PROMPT),
        Message("user", 'Can you print "Hello world!"?'),
        Message("assistant", '```python\n\nprint("hello world!")\n```\n'),
        Message("tool", "Output:\nhello world!\n", output="hello world!\n"),
        Message("assistant", 'I have printed "hello world!" using the provided python code block. \n'),
        Message(
            "user",
            "What is the sum of the first 50 prime numbers? Generate and run code for the calculation, "
            "and make sure you get all 50.",
        ),
    ]


def test_system_instruction_joins_the_tool_prompt() -> None:
    request = parse_generate_request('{"contents": {"parts": {"text": "hi"}}}')
    assert prompts.render(request.contents, "Be brief.", True)[0] == Message(
        "system", prompts.CODE_EXECUTION_PROMPT + "\n\nBe brief."
    )
    assert prompts.render(request.contents, "Be brief.", False)[0] == Message("system", "Be brief.")
    assert prompts.render(request.contents, None, False) == [Message("user", "hi")]


def test_failed_results_say_so() -> None:
    assert prompts.format_result("OUTCOME_FAILED", "Traceback ...") == (
        f"The code failed:\nTraceback ...\n{prompts.FIX_REQUEST}"
    )
    assert prompts.format_result("OUTCOME_DEADLINE_EXCEEDED", "").endswith(prompts.FIX_REQUEST)


def test_long_output_reaches_the_model_clipped() -> None:
    output = "a" * 5000 + "b" * 5000
    text = prompts.format_result("OUTCOME_OK", output)
    assert len(text) < 6200
    assert text.startswith("Output:\naaa") and text.endswith("bbb")
    assert "4000 characters not shown" in text
    assert prompts.format_result("OUTCOME_OK", "") == "Output:\n(no output)"
