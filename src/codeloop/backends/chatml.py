"""ChatML, the prompt format of the Qwen2.5 family, with code results as Qwen's tool responses."""

from __future__ import annotations

from collections.abc import Iterable

from codeloop.backends.base import Message

END_OF_TURN = "<|im_end|>"
# Opens the assistant's turn: a prompt ends with it, and the model's text follows it.
ASSISTANT_OPENER = "<|im_start|>assistant\n"
DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def render(messages: Iterable[Message]) -> str:
    """The prompt text up to the start of the next assistant turn.

    A prefix of the messages renders to a prefix of the text, so a loop iteration that only
    appends messages shares its whole history with the previous prompt (and its KV cache)."""
    messages = list(messages)
    out = []
    if not messages or messages[0].role != "system":
        out.append(_turn("system", DEFAULT_SYSTEM))
    for index, message in enumerate(messages):
        if message.role == "tool":
            # Qwen's template folds consecutive tool results into one user turn.
            opening = index == 0 or messages[index - 1].role != "tool"
            closing = index + 1 == len(messages) or messages[index + 1].role != "tool"
            out.append(
                ("<|im_start|>user" if opening else "")
                + f"\n<tool_response>\n{message.content}\n</tool_response>"
                + (f"{END_OF_TURN}\n" if closing else "")
            )
        else:
            out.append(_turn(message.role, message.content))
    out.append(ASSISTANT_OPENER)
    return "".join(out)


def _turn(role: str, content: str) -> str:
    return f"<|im_start|>{role}\n{content}{END_OF_TURN}\n"
