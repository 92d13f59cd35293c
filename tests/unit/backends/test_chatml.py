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
