from __future__ import annotations

from codeloop.backends import chatml
from codeloop.backends.base import Message

CONVERSATION = [
    Message("system", "Run code."),
    Message("user", "Sum 1..3"),
    Message("assistant", "```python\nprint(6)\n```\n"),
    Message("tool", "Output:\n6\n"),
    Message("assistant", "It is 6."),
]


def test_render() -> None:
    assert chatml.render(CONVERSATION[:4]) == (
        "<|im_start|>system\nRun code.<|im_end|>\n"
        "<|im_start|>user\nSum 1..3<|im_end|>\n"
        "<|im_start|>assistant\n```python\nprint(6)\n```\n<|im_end|>\n"
        "<|im_start|>user\n<tool_response>\nOutput:\n6\n\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_a_longer_conversation_extends_the_prompt() -> None:
    for end in range(1, len(CONVERSATION)):
        shorter = chatml.render(CONVERSATION[:end]).removesuffix("<|im_start|>assistant\n")
        assert chatml.render(CONVERSATION[: end + 1]).startswith(shorter)


def test_default_system_prompt() -> None:
    assert chatml.render([Message("user", "hi")]).startswith(f"<|im_start|>system\n{chatml.DEFAULT_SYSTEM}")


OUTPUT_CONVERSATION = [
    Message("system", "Run code."),
    Message("user", "Sum 1..3"),
    Message("assistant", "```python\nprint(6)\n```\n"),
    Message("tool", "Output:\n6\n", output="6\n"),
    Message("assistant", "Check:\n```python\nprint(1+2+3)\n```\n"),
    Message("tool", "Output:\n6\n", output="6\n"),
    Message("assistant", "It is 6."),
    Message("user", "Thanks"),
]


def test_results_as_output_blocks_continue_the_models_turn() -> None:
    assert chatml.render(OUTPUT_CONVERSATION[:4], results="output") == (
        "<|im_start|>system\nRun code.<|im_end|>\n"
        "<|im_start|>user\nSum 1..3<|im_end|>\n"
        "<|im_start|>assistant\n```python\nprint(6)\n```\n```output\n6\n```\n"
    )
    assert chatml.render(OUTPUT_CONVERSATION, results="output").endswith(
        "```output\n6\n```\nCheck:\n```python\nprint(1+2+3)\n```\n```output\n6\n```\n"
        "It is 6.<|im_end|>\n<|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\n"
    )


def test_output_style_prompts_extend_each_other_as_the_loop_goes() -> None:
    # What the model wrote in one call is in the next call's prompt, token for token.
    for end in (2, 4):
        generated = OUTPUT_CONVERSATION[end].content
        before = chatml.render(OUTPUT_CONVERSATION[:end], results="output")
        after = chatml.render(OUTPUT_CONVERSATION[: end + 2], results="output")
        assert after.startswith(before + generated)


def test_a_tool_message_without_output_shows_its_content() -> None:
    messages = [Message("user", "q"), Message("assistant", "```python\n1/0\n```\n"), Message("tool", "x")]
    assert chatml.render(messages, results="output").endswith("```output\nx\n```\n")


def test_function_results_stay_tool_responses_in_output_style() -> None:
    messages = [Message("user", "q"), Message("tool", "result")]
    assert "<tool_response>\nresult\n</tool_response>" in chatml.render(messages, results="output")


def test_prefix_is_written_after_the_header() -> None:
    assert chatml.render([Message("user", "q")], prefix="```python\n").endswith(
        "<|im_start|>assistant\n```python\n"
    )
