"""```python fences and <tool_call> blocks: found in a model's text as it streams, and written alike.

Code runs the moment its fence closes. The loop reads replies with this module and the scripted
backend writes them with it: the format lives in one place, which imports nothing of codeloop."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

PYTHON_LANGUAGES = frozenset({"python", "py", "python3", "tool_code"})

_OPENER = re.compile(r"^```[ \t]*([\w+.-]*)[ \t]*\n?$")
_CLOSER = re.compile(r"^```[ \t]*\n?$")
# A partial line that could still grow into a fence line, so it is held back until it ends.
_FENCE_PREFIX = re.compile(r"^(`{1,2}|```[\w+.-]*[ \t]*)$")


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Code:
    code: str


@dataclass(frozen=True)
class Call:
    """The inside of a <tool_call> block: what should be a function call's JSON."""

    raw: str


Piece = Text | Code | Call

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"


def fence(code: str) -> str:
    """A Python block as the model writes it."""
    return f"```python\n{code if code.endswith(chr(10)) else code + chr(10)}```\n"


def call_block(raw: str) -> str:
    """A call's JSON in its tags, as the model writes it."""
    return f"{CALL_OPEN}\n{raw}\n{CALL_CLOSE}\n"


def find_code_blocks(text: str) -> list[str]:
    """Every complete Python block in a finished text, in order."""
    return [piece.code for piece in _pieces(FenceSplitter(), text) if isinstance(piece, Code)]


def find_calls(text: str) -> list[str]:
    """The JSON of every complete <tool_call> block in a finished text, in order."""
    splitter = FenceSplitter(detect_code=False, detect_calls=True)
    return [piece.raw for piece in _pieces(splitter, text) if isinstance(piece, Call)]


def _pieces(splitter: FenceSplitter, text: str) -> list[Piece]:
    return splitter.feed(text) + splitter.finish(truncated=True)


class FenceSplitter:
    """Splits streamed text into Text pieces and complete Code blocks.

    Fences count only at the start of a line. Other languages' fenced blocks stay text,
    and a Python fence inside them is not an opener. With `detect_calls`, a line starting
    with <tool_call> opens a function call that ends at </tool_call>; so does a reply that is
    nothing but a call's JSON on its first line, as small models sometimes write one.
    """

    def __init__(self, detect_code: bool = True, detect_calls: bool = False) -> None:
        self._detect_code = detect_code
        self._detect_calls = detect_calls
        self._line = ""  # the current, unfinished line
        self._code: list[str] | None = None  # lines of an open Python block
        self._call: list[str] | None = None  # lines of an open <tool_call>
        self._in_other_fence = False
        self._mid_line = False  # the current line's start was already emitted, so it holds no fence
        self._first_line = True  # nothing has been read past the reply's first line yet

    def feed(self, text: str) -> list[Piece]:
        out: list[Piece] = []
        pending = ""
        *lines, self._line = (self._line + text).split("\n")
        for line in lines:
            if self._mid_line:  # the rest of a line whose start already went out as text
                self._mid_line = False
                pending += line + "\n"
            else:
                pending = self._take_line(line + "\n", pending, out)
            self._first_line = False
        if self._code is None and self._call is None and self._line and not self._may_open(self._line):
            pending += self._line
            self._line = ""
            self._mid_line = True
        if pending:
            out.append(Text(pending))
        return out

    def finish(self, truncated: bool = False) -> list[Piece]:
        """Flush what is held. A block the stream ended inside is complete unless `truncated`

        (a stop sequence may have eaten the closing fence; a token limit may have cut the code)."""
        out: list[Piece] = []
        line, self._line = self._line, ""
        if self._call is not None:
            raw, self._call = "".join(self._call) + line, None
            closed = CALL_CLOSE in raw
            if truncated and not closed:
                out.append(Text(CALL_OPEN + raw))
            else:
                out.append(Call(raw.split(CALL_CLOSE, 1)[0].strip()))
        elif self._code is not None:
            code, self._code = self._code, None
            closed = bool(_CLOSER.match(line))
            if closed:
                line = ""
            if truncated and not closed:
                out.append(Text("```python\n" + "".join(code) + line))
            else:
                out.append(Code("".join(code) + line))
        elif line and self._bare_call(line):
            out.append(Call(line.strip()))
        elif line:
            out.append(Text(line))
        return out

    def _may_open(self, line: str) -> bool:
        """Whether a partial line could still become a fence or a call opener."""
        if self._mid_line:
            return False
        if self._detect_calls and not self._in_other_fence:
            stripped = line.lstrip()
            if CALL_OPEN.startswith(stripped) or stripped.startswith(CALL_OPEN):
                return True
            if self._first_line and stripped.startswith("{"):
                return True  # perhaps a bare call: held until its line ends
        return bool(_FENCE_PREFIX.match(line))

    def _bare_call(self, line: str) -> bool:
        """A first line that is a call's JSON, {"name": ..., "arguments": {...}}, without the tags."""
        if not (self._detect_calls and self._first_line and line.lstrip().startswith("{")):
            return False
        try:
            call = json.loads(line)
        except ValueError:
            return False
        return isinstance(call, dict) and isinstance(call.get("name"), str) and "arguments" in call

    def _take_line(self, line: str, pending: str, out: list[Piece]) -> str:
        if self._call is not None:
            self._call.append(line)
            self._close_call(out)
            return pending
        if self._bare_call(line):
            out.append(Call(line.strip()))
            return pending
        if self._detect_calls and not self._in_other_fence and self._code is None:
            stripped = line.lstrip()
            if stripped.startswith(CALL_OPEN):
                if pending:
                    out.append(Text(pending))
                self._call = [stripped[len(CALL_OPEN) :]]
                self._close_call(out)
                return ""
        if self._code is not None:
            if _CLOSER.match(line):
                out.append(Code("".join(self._code)))
                self._code = None
            else:
                self._code.append(line)
            return pending
        opener = _OPENER.match(line)
        if self._in_other_fence:
            self._in_other_fence = not _CLOSER.match(line)
        elif opener and self._detect_code and opener[1].lower() in PYTHON_LANGUAGES:
            if pending:
                out.append(Text(pending))
            self._code = []
            return ""
        elif opener:
            self._in_other_fence = True
        return pending + line

    def _close_call(self, out: list[Piece]) -> None:
        assert self._call is not None
        raw = "".join(self._call)
        if CALL_CLOSE in raw:
            out.append(Call(raw.split(CALL_CLOSE, 1)[0].strip()))
            self._call = None
