from __future__ import annotations

from pathlib import Path

from codeloop.backends.base import Message
from codeloop.loop import prompts
from codeloop.loop.inputs import InputFiles
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


def test_thoughts_are_not_replayed_and_signatures_change_nothing() -> None:
    request = parse_generate_request(
        """{"contents": [
          {"role": "user", "parts": [{"text": "hi"}, {"text": "user musing", "thought": true}]},
          {"role": "model", "parts": [
            {"thought": true, "thoughtSignature": "c2lnbmF0dXJl"},
            {"text": "secret plan", "thought": true},
            {"text": "Computing.", "thoughtSignature": "c2ln"},
            {"executableCode": {"code": "print(1)", "language": "PYTHON", "id": "b1"},
             "thoughtSignature": "c2ln"},
            {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1", "id": "b1"}}]},
          {"role": "user", "parts": {"text": "thanks"}}]}"""
    )
    assert prompts.render(request.contents, None, False) == [
        Message("user", "hi"),
        Message("assistant", "Computing.\n```python\nprint(1)\n```\n"),
        Message("tool", "Output:\n1", output="1"),
        Message("user", "thanks"),
    ]


CALLS = """{"role": "model", "parts": [
  {"functionCall": {"id": "c1", "name": "weather", "args": {"city": "Paris"}}},
  {"functionCall": {"id": "c2", "name": "time", "args": {}}}]}"""


def test_function_responses_follow_their_calls_by_id() -> None:
    request = parse_generate_request(
        '{"contents": [{"parts": {"text": "go"}}, '
        + CALLS
        + """, {"role": "user", "parts": [
          {"functionResponse": {"id": "c2", "response": {"now": "noon"}}},
          {"functionResponse": {"id": "c1", "name": "weather", "response": {"celsius": 21}}}]}]}"""
    )
    messages = prompts.render(request.contents, None, False)
    assert messages[-2:] == [
        Message("tool", '{"name": "weather", "response": {"celsius": 21}}'),
        Message("tool", '{"name": "time", "response": {"now": "noon"}}'),
    ]


def test_function_responses_without_ids_keep_their_order() -> None:
    request = parse_generate_request(
        '{"contents": [{"parts": {"text": "go"}}, '
        + CALLS
        + """, {"role": "user", "parts": [
          {"functionResponse": {"name": "time", "response": {"now": "noon"}}},
          {"functionResponse": {"name": "weather", "response": {"celsius": 21}}}]}]}"""
    )
    assert [m.content for m in prompts.render(request.contents, None, False)[-2:]] == [
        '{"name": "time", "response": {"now": "noon"}}',
        '{"name": "weather", "response": {"celsius": 21}}',
    ]


def test_a_function_responses_files_are_staged_like_the_users() -> None:
    request = parse_generate_request(
        """{"contents": [{"parts": {"text": "go"}},
          {"role": "model", "parts": {"functionCall": {"id": "c1", "name": "chart", "args": {}}}},
          {"role": "user", "parts": {"functionResponse": {"id": "c1", "name": "chart", "response": {},
            "parts": [{"inlineData": {"mimeType": "text/csv", "data": "YSxiCjEsMgo=",
                                      "displayName": "t.csv"}}]}}}]}"""
    )
    inputs = InputFiles()
    messages = prompts.render(request.contents, None, True, inputs)
    assert [(f.name, f.data) for f in inputs.files] == [("t.csv", b"a,b\n1,2\n")]
    assert messages[-1].role == "tool" and "[File t.csv (text/csv, 8 bytes)" in messages[-1].content


def test_a_server_side_tools_replayed_result_is_context() -> None:
    request = parse_generate_request(
        """{"contents": [{"parts": {"text": "news?"}}, {"role": "model", "parts": [
          {"toolCall": {"id": "t1", "toolType": "GOOGLE_SEARCH_WEB", "args": {"q": "news"}}},
          {"toolResponse": {"id": "t1", "toolType": "GOOGLE_SEARCH_WEB", "response": {"hits": 3}}},
          {"text": "Three hits."}]}]}"""
    )
    assert prompts.render(request.contents, None, False)[1:] == [
        Message("tool", '{"tool": "GOOGLE_SEARCH_WEB", "response": {"hits": 3}}'),
        Message("assistant", "Three hits."),
    ]


def test_a_block_that_found_no_file_is_told_which_files_there_are() -> None:
    missing = "FileNotFoundError: [Errno 2] No such file or directory: 'file_input_0.json'\n"
    message = prompts.result_message("OUTCOME_FAILED", missing, ["input_file_0.json", "notes.txt"])
    hint = "The working directory holds these files: input_file_0.json, notes.txt."
    assert message.content.endswith("\n" + hint)
    assert message.output is not None and message.output.endswith(hint)
    # Not when the block ran well, failed otherwise, or the request sent no files.
    assert hint not in prompts.result_message("OUTCOME_OK", missing, ["input_file_0.json"]).content
    assert hint not in prompts.result_message("OUTCOME_FAILED", "ZeroDivisionError\n", ["a.csv"]).content
    assert "holds these files" not in prompts.result_message("OUTCOME_FAILED", missing).content
