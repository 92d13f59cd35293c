"""ChatML, the prompt format of the Qwen2.5 family, with code results in one of two shapes.

- "tool": each result is a Qwen tool response (a user turn of `<tool_response>` blocks), as
  Qwen's chat template renders tool messages;
- "output": each result is an ```output block inside the model's own turn, right after the code
  that printed it, which is what these models write themselves after a code block: the turn goes
  on after the output, so the model continues its own reply.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from codeloop.backends.base import Message

END_OF_TURN = "<|im_end|>"
# Opens the assistant's turn: a prompt ends with it, and the model's text follows it.
ASSISTANT_OPENER = "<|im_start|>assistant\n"
USER_OPENER = "<|im_start|>user\n"
DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

ResultStyle = Literal["tool", "output"]


def render(messages: Iterable[Message], results: ResultStyle = "tool", prefix: str = "") -> str:
    """The prompt text up to where the model writes next, `prefix` already written.

    A prefix of the messages renders to a prefix of the text, so a loop iteration that only
    appends messages shares its whole history with the previous prompt (and its KV cache)."""
    messages = list(messages)
    out = []
    if not messages or messages[0].role != "system":
        out.append(_turn("system", DEFAULT_SYSTEM))
    open_turn = False  # an assistant turn that goes on after an ```output block
    for index, message in enumerate(messages):
        previous = messages[index - 1].role if index else None
        following = messages[index + 1].role if index + 1 < len(messages) else None
        if message.role == "tool" and results == "output" and previous in ("assistant", "tool"):
            body = message.output if message.output is not None else message.content
            out.append(output_block(body))
            open_turn = True
        elif message.role == "assistant" and open_turn:
            out.append(message.content)
        elif message.role == "tool":
            # Qwen's template folds consecutive tool results into one user turn.
            out.append(
                ("<|im_start|>user" if previous != "tool" else "")
                + f"\n<tool_response>\n{message.content}\n</tool_response>"
                + (f"{END_OF_TURN}\n" if following != "tool" else "")
            )
        else:
            if open_turn:
                out.append(f"{END_OF_TURN}\n")
                open_turn = False
            if message.role == "assistant" and following == "tool" and results == "output":
                out.append(f"{ASSISTANT_OPENER}{message.content}")
                open_turn = True
            else:
                out.append(_turn(message.role, message.content))
    if not open_turn:
        out.append(ASSISTANT_OPENER)
    out.append(prefix)
    return "".join(out)


def output_block(output: str) -> str:
    """A code result as the model writes one after its own code."""
    if output and not output.endswith("\n"):
        output += "\n"
    return f"```output\n{output}```\n"


def _turn(role: str, content: str) -> str:
    return f"<|im_start|>{role}\n{content}{END_OF_TURN}\n"
