"""How a Gemini conversation is put to a chat model: the tool's system prompt and the replayed trail."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from google.genai import types

from codeloop.backends.base import Message
from codeloop.errors import InvalidRequest
from codeloop.execution import Outcome
from codeloop.fences import fence
from codeloop.loop.functions import call_text, response_text
from codeloop.loop.inputs import InputFiles

CODE_EXECUTION_PROMPT = """\
You have a Python interpreter. For any question that involves numbers, counting, dates or \
calculation, write a complete Python program in a ```python code block that prints the answer; \
it is run for you and you see its output. Never guess a number: compute it. After you see the \
output, state the final answer in one sentence. If the code fails, fix it. For greetings or \
general questions, answer directly without code. numpy, pandas and matplotlib are available; \
there is no network and no pip.

For example, asked "What is the product of the first 5 even numbers?", you reply with a program \
such as:
```python
import math

evens = []
n = 1
while len(evens) < 5:
    if n % 2 == 0:
        evens.append(n)
    n += 1
print(len(evens), evens)
print(math.prod(evens))
```
and once you see its output, you answer the question that was asked, in one sentence, with the \
number the program printed."""

# How much of a block's output goes back to the model: enough to read, not enough to flood its context.
MODEL_OUTPUT_CHARS = 6000

FIX_REQUEST = "Fix the code and run it again, without the part that failed."
REPEATED_SUCCESS = "That code already ran; its output is above. Give the final answer in plain text now."
COMPUTE_IT = (
    "That program only prints a value written into it: it computes nothing. Write a program that "
    "computes the answer from the question's own data, then prints it."
)
REPEATED_FAILURE = "That is the code that just failed, unchanged. Write different code that avoids the error."

_MISSING_FILE = re.compile(r"FileNotFoundError|No such file or directory")

_RESULT_HEADERS = {
    Outcome.OUTCOME_OK: "Output:",
    Outcome.OUTCOME_FAILED: "The code failed:",
    Outcome.OUTCOME_DEADLINE_EXCEEDED: "The code ran past its time limit:",
}


def format_result(outcome: Outcome | str | None, output: str) -> str:
    """The tool message a model sees after a block ran; a failure asks for a fix, as Gemini retries."""
    outcome = Outcome(outcome or Outcome.OUTCOME_OK)
    text = f"{_RESULT_HEADERS.get(outcome, 'Output:')}\n{_clip(output) or '(no output)'}"
    if outcome != Outcome.OUTCOME_OK:
        text += f"\n{FIX_REQUEST}"
    return text


def _clip(output: str, keep: int = MODEL_OUTPUT_CHARS) -> str:
    """Long output reaches the model as its head and tail: the client still gets all of it."""
    if len(output) <= keep:
        return output
    half = keep // 2
    return f"{output[:half]}\n[... {len(output) - keep} characters not shown ...]\n{output[-half:]}"


def bare_output(outcome: Outcome | str | None, output: str) -> str:
    """A result as the model's own ```output block shows it: what the code printed (a failure's
    traceback included), and a line saying so when the code ran out of time."""
    text = _clip(output)
    if Outcome(outcome or Outcome.OUTCOME_OK) == Outcome.OUTCOME_DEADLINE_EXCEEDED:
        separator = "" if not text or text.endswith("\n") else "\n"
        text += separator + "TimeoutError: the code ran past its time limit\n"
    return text


def result_message(outcome: Outcome | str | None, output: str, files: Iterable[str] = ()) -> Message:
    """A code result for the model, in both shapes a backend may show it in (see Message.output).

    A block that failed to find a file is told which files the working directory holds: small
    models misremember a name they were given (file_input_0.json for input_file_0.json), then
    invent paths."""
    hint = _files_hint(outcome, output, list(files))
    return Message(
        "tool", format_result(outcome, output) + hint, output=bare_output(outcome, output) + hint.lstrip("\n")
    )


def _files_hint(outcome: Outcome | str | None, output: str, files: list[str]) -> str:
    failed = Outcome(outcome or Outcome.OUTCOME_OK) != Outcome.OUTCOME_OK
    if not (failed and files and _MISSING_FILE.search(output)):
        return ""
    return "\nThe working directory holds these files: " + ", ".join(files) + "."


def render(
    contents: Iterable[types.Content],
    system_instruction: str | None,
    code_execution: bool,
    inputs: InputFiles | None = None,
    tools: str | None = None,
) -> list[Message]:
    """The chat messages for a conversation: system prompt, then each turn, code trail included.

    Files in user turns are collected into `inputs` and described where they appear; `tools`
    offers the client's functions."""
    inputs = inputs if inputs is not None else InputFiles()
    system = [CODE_EXECUTION_PROMPT] if code_execution else []
    if system_instruction:
        system.append(system_instruction)
    if tools:
        system.append(tools)
    messages = [Message("system", "\n\n".join(system))] if system else []
    calls: dict[str, types.FunctionCall] = {}
    for content in contents:
        # Thoughts are the model's own scratch work: Gemini keeps them out of the prompt it replays.
        parts = [part for part in content.parts or () if not part.thought]
        if content.role == "model":
            messages.extend(_model_turn(parts))
            made = (part.function_call for part in parts)
            calls = {call.id: call for call in made if call is not None and call.id}
        else:
            messages.extend(_user_turn(parts, inputs, code_execution, calls))
            calls = {}
    return messages


def content_text(content: types.Content | None) -> str:
    """The text of a Content (systemInstruction), its parts joined."""
    if content is None:
        return ""
    return "\n".join(part.text for part in content.parts or () if part.text)


def _user_turn(
    parts: Iterable[types.Part],
    inputs: InputFiles,
    code_execution: bool,
    calls: dict[str, types.FunctionCall],
) -> list[Message]:
    """A user turn: function results first (as tool messages), then its text and files.

    Results that name their call by id come in the order of the calls (`calls`, the previous model
    turn's, by id), and take the call's name where they leave theirs out; the others follow as sent."""
    order = list(calls)
    results: list[tuple[int, Message]] = []
    texts = []
    for part in parts:
        if part.text is not None:
            texts.append(part.text)
        elif part.inline_data is not None or part.file_data is not None:
            texts.append(inputs.add(part, code_execution))
        elif part.function_response is not None:
            response = part.function_response
            call = calls.get(response.id or "")
            place = (
                order.index(response.id) if call is not None and response.id else len(order) + len(results)
            )
            name = response.name or (call.name if call else None)
            text = response_text(name, response.response)
            files = [inputs.add(file, code_execution) for file in _response_files(response)]
            results.append((place, Message("tool", "\n".join([text, *files]))))
        elif part.tool_response is not None:
            results.append((len(order) + len(results), _server_tool_result(part.tool_response)))
        elif part.function_call is not None:
            raise InvalidRequest("functionCall parts belong in model turns.")
        elif part.executable_code is not None or part.code_execution_result is not None:
            raise InvalidRequest("executableCode and codeExecutionResult parts belong in model turns.")
    messages = [message for _, message in sorted(results, key=lambda result: result[0])]
    if texts or not messages:
        messages.append(Message("user", "\n".join(texts)))
    return messages


def _response_files(response: types.FunctionResponse) -> list[types.Part]:
    """The files a function returned beside its response, as parts of their own."""
    files = []
    for part in response.parts or ():
        if part.inline_data is not None:
            blob = part.inline_data
            inline = types.Blob(data=blob.data, mime_type=blob.mime_type, display_name=blob.display_name)
            files.append(types.Part(inline_data=inline))
        if part.file_data is not None:
            ref = part.file_data
            linked = types.FileData(
                file_uri=ref.file_uri, mime_type=ref.mime_type, display_name=ref.display_name
            )
            files.append(types.Part(file_data=linked))
    return files


def _model_turn(parts: Iterable[types.Part]) -> list[Message]:
    """A model turn replayed: its text and code as assistant messages, each result as a tool message."""
    messages: list[Message] = []
    text = ""
    for part in parts:
        if part.text is not None:
            text += part.text
        elif part.executable_code is not None:
            text += ("\n" if text and not text.endswith("\n") else "") + fence(
                part.executable_code.code or ""
            )
        elif part.code_execution_result is not None:
            if text:
                messages.append(Message("assistant", text))
                text = ""
            result = part.code_execution_result
            messages.append(result_message(result.outcome, result.output or ""))
        elif part.function_call is not None:
            call = part.function_call
            text += call_text(call.name or "", call.args)
        elif part.tool_response is not None:
            if text:
                messages.append(Message("assistant", text))
                text = ""
            messages.append(_server_tool_result(part.tool_response))
        # inlineData in a model turn is a figure the code drew: the text trail carries its story.
    if text:
        messages.append(Message("assistant", text))
    return messages


def _server_tool_result(response: types.ToolResponse) -> Message:
    """A server-side tool's result (Google Search's, say) in a replayed trail: what it found is context."""
    found = {"tool": response.tool_type, "response": response.response or {}}
    return Message("tool", json.dumps(found, ensure_ascii=False, default=str))
