"""Restoring a quoted string the program copied wrongly from the question.

Small models misspell a long word while copying it into their program: asked to convert
"hippopotamus mississippi" to uppercase, the 1.5B ran `print("HIPPOTOBAMUS MISSISSIPPI".upper())`
and reported the typo as the answer. A string literal that the program computes with (not one it only
prints: that is its answer, right or wrong) and that is a near miss of exactly one string the user put
in quotes, ignoring case, is put back as the user wrote it, in the case the program wrote it in, before
the program runs. The client sees the program that ran.
"""

from __future__ import annotations

import ast
import re

# "...", “...”, and '...' where the quotes are not apostrophes inside words.
_QUOTED = re.compile(r"\"([^\"\n]+)\"|“([^”\n]+)”|(?<!\w)'([^'\n]+)'(?!\w)")
# A literal in the program's source that can be rewritten as it stands: one pair of plain quotes.
_PLAIN = re.compile(r"(['\"])([^'\"\\\n]*)\1")
MIN_LENGTH = 5  # shorter strings ("r", "abc") are as often other strings as typos of these


def restore_quotes(code: str, question: str) -> str:
    """`code` with each near-miss copy of a quoted string of `question` restored (see the module)."""
    quoted = {next(group for group in match.groups() if group) for match in _QUOTED.finditer(question)}
    quoted = {text for text in quoted if len(text) >= MIN_LENGTH}
    if not quoted:
        return code
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and _prints(node)]
    printed = {id(arg) for call in calls for arg in call.args}
    lines = code.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in printed:
            continue
        source = _segment(lines, node)
        plain = _PLAIN.fullmatch(source) if source is not None else None
        if plain is None or plain.group(2) != node.value:
            continue
        meant = _meant(node.value, quoted)
        if meant is None or plain.group(1) in meant or "\\" in meant:
            continue
        start = _offset(lines, node.lineno, node.col_offset)
        end = _offset(lines, node.end_lineno, node.end_col_offset)
        edits.append((start, end, plain.group(1) + meant + plain.group(1)))
    text = "".join(lines).encode()
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement.encode() + text[end:]
    return text.decode()


def _meant(literal: str, quoted: set[str]) -> str | None:
    """The one quoted string `literal` is a near miss of, recased as the literal is; else None."""
    if len(literal) < MIN_LENGTH or any(literal.lower() == text.lower() for text in quoted):
        return None
    near = [text for text in quoted if _distance(literal.lower(), text.lower()) <= _allowed(text)]
    if len(near) != 1:
        return None
    return _recase(near[0], literal)


def _allowed(text: str) -> int:
    """Edits a copy of `text` may be off by and still count as a copy: 1 up to 9 letters, then 2."""
    return 1 if len(text) < 10 else 2


def _recase(text: str, like: str) -> str:
    if like.isupper():
        return text.upper()
    if like.islower():
        return text.lower()
    if like.istitle():
        return text.title()
    return text


def _distance(a: str, b: str) -> int:
    """Levenshtein distance."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def _prints(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Name) and call.func.id == "print"


def _segment(lines: list[str], node: ast.expr) -> str | None:
    if node.end_lineno is None or node.end_col_offset is None or node.lineno != node.end_lineno:
        return None
    line = lines[node.lineno - 1].encode()
    return line[node.col_offset : node.end_col_offset].decode(errors="replace")


def _offset(lines: list[str], lineno: int | None, col: int | None) -> int:
    """The byte offset in the whole source of a 1-based line and a byte column (as ast gives them)."""
    assert lineno is not None and col is not None
    return sum(len(line.encode()) for line in lines[: lineno - 1]) + col
