from __future__ import annotations

import pytest

from codeloop.fences import Code, FenceSplitter, Piece, Text, call_block, fence, find_calls, find_code_blocks

REPLY = "Let me compute.\n```python\nx = 1\nprint(x)\n```\nThe answer is 1."


def split(chunks: list[str], truncated: bool = False) -> list[Piece]:
    splitter = FenceSplitter()
    pieces = [piece for chunk in chunks for piece in splitter.feed(chunk)]
    pieces += splitter.finish(truncated)
    merged: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, Text) and merged and isinstance(merged[-1], Text):
            merged[-1] = Text(merged[-1].text + piece.text)
        else:
            merged.append(piece)
    return merged


EXPECTED = [Text("Let me compute.\n"), Code("x = 1\nprint(x)\n"), Text("The answer is 1.")]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 1000])
def test_any_chunking_gives_the_same_pieces(size: int) -> None:
    chunks = [REPLY[i : i + size] for i in range(0, len(REPLY), size)]
    assert split(chunks) == EXPECTED


def test_text_streams_before_the_line_ends() -> None:
    splitter = FenceSplitter()
    assert splitter.feed("Hello wor") == [Text("Hello wor")]
    assert splitter.feed("ld ``") == [Text("ld ``")]  # mid-line: never a fence
    assert splitter.feed("\n`") == [Text("\n")]  # a line starting with a backtick may be one: held
    assert splitter.feed("x`") == [Text("`x`")]


def test_other_languages_stay_text_and_hide_their_contents() -> None:
    reply = "```bash\nls\n```\n```\n```python\nnot code\n```\n"
    assert split([reply]) == [Text(reply)]


@pytest.mark.parametrize("opener", ["```python", "```py", "```Python3", "```tool_code", "``` python "])
def test_python_openers(opener: str) -> None:
    assert split([f"{opener}\nx = 1\n```\n"]) == [Code("x = 1\n")]


def test_a_stop_sequence_may_eat_the_closing_fence() -> None:
    assert split(["```python\nx = 1\n"]) == [Code("x = 1\n")]
    assert split(["```python\nx = 1\n```"]) == [Code("x = 1\n")]


def test_code_cut_by_the_token_limit_stays_text() -> None:
    assert split(["```python\nx = (1 +\n"], truncated=True) == [Text("```python\nx = (1 +\n")]


def test_detection_off_keeps_code_as_text() -> None:
    splitter = FenceSplitter(detect_code=False)
    pieces = splitter.feed(REPLY) + splitter.finish()
    assert all(isinstance(piece, Text) for piece in pieces)
    assert "".join(piece.text for piece in pieces if isinstance(piece, Text)) == REPLY


def test_find_code_blocks() -> None:
    assert find_code_blocks("a\n```python\n1\n```\nb\n```py\n2\n```") == ["1\n", "2\n"]
    assert find_code_blocks("```python\nunfinished\n") == []


def test_find_calls_takes_the_tagged_calls_outside_code() -> None:
    text = (
        'Calling.\n<tool_call>\n{"name": "f"}\n</tool_call>\n'
        "```python\n<tool_call>{}</tool_call>\n```\n"
        'a <tool_call>{"name": "mid-line"}</tool_call>\n'
        '<tool_call>{"name": "g"}</tool_call>\n'
        "<tool_call>\nunclosed\n"
    )
    assert find_calls(text) == ['{"name": "f"}', '{"name": "g"}']


def test_what_is_written_is_found_again() -> None:
    assert find_code_blocks("Running.\n" + fence("print(1)")) == ["print(1)\n"]
    assert find_calls("Calling.\n" + call_block('{"name": "f"}')) == ['{"name": "f"}']
