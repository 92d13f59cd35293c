"""Keeping the final answer true to what the code printed.

Small models restate a long printed number with a digit dropped or changed (355687428096000
printed, "35,568,742,809,600" written). As the answer streams, each number in it is held back
until it is complete and compared with the numbers the code printed: one that matches none of them
but is a near miss of one (a digit or two apart, long enough that a near miss is no coincidence)
is replaced by the printed number, written the way the text wrote its own (with or without
thousands separators); a printed number whose separators the text misplaced is written with them
where they belong. Numbers the user wrote, and roundings of a printed number, are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_PARTIAL = re.compile(r"\d[\d,.]*$")  # a number that the next chunk may continue
MIN_DIGITS = 5  # shorter numbers are too often legitimately one digit apart


class Grounding:
    """A filter over the streamed text of an answer; feed it chunks, then flush it."""

    def __init__(self, printed: Iterable[str], given: Iterable[str] = ()) -> None:
        self._printed = {_digits(m.group()) for text in printed for m in _NUMBER.finditer(text)}
        self._given = {_digits(m.group()) for text in given for m in _NUMBER.finditer(text)}
        self._held = ""
        self.corrections: list[tuple[str, str]] = []  # (written, replaced by), for logs and tests

    def feed(self, text: str) -> str:
        text = self._held + text
        partial = _PARTIAL.search(text)
        self._held = partial.group() if partial else ""
        return self._correct(text[: len(text) - len(self._held)])

    def flush(self) -> str:
        text, self._held = self._held, ""
        return self._correct(text)

    def _correct(self, text: str) -> str:
        return _NUMBER.sub(self._replace, text) if self._printed else text

    def _replace(self, match: re.Match[str]) -> str:
        written = match.group()
        plain = written.replace(",", "")
        if _digits(written) in self._given:
            return written
        if plain in self._printed:
            if len(plain) >= MIN_DIGITS and _misgrouped(written):  # separators misplaced
                fixed = _grouped(plain)
                self.corrections.append((written, fixed))
                return fixed
            return written
        truth = self._near_miss(plain)
        if truth is None:
            return written
        fixed = _grouped(truth) if "," in written else truth
        self.corrections.append((written, fixed))
        return fixed

    def _near_miss(self, plain: str) -> str | None:
        digits = plain.replace(".", "")
        if len(digits) < MIN_DIGITS:
            return None
        close = []
        for printed in self._printed:
            candidate = printed.replace(".", "")
            if len(candidate) < MIN_DIGITS or (candidate.startswith(digits) and "." in plain):
                continue  # a rounding of the printed value is a fair restatement
            if _rounds_to(printed, plain):
                continue
            if _edit_distance(digits, candidate, limit=2) <= max(1, min(2, len(candidate) // 8)):
                close.append(printed)
        return close[0] if len(close) == 1 else None  # two near misses: no telling which was meant


def _digits(number: str) -> str:
    return number.replace(",", "")


def _misgrouped(written: str) -> bool:
    """Whether thousands separators split the number where no convention puts them: a group after
    the first that is not three digits long ("627,001,393,674,908,65616"). Indian grouping
    (12,34,567) keeps its last group at three digits and passes."""
    whole = written.partition(".")[0]
    return "," in whole and len(whole.rsplit(",", 1)[1]) != 3


def _grouped(number: str) -> str:
    whole, dot, fraction = number.partition(".")
    return f"{int(whole):,}{dot}{fraction}"


def _rounds_to(printed: str, written: str) -> bool:
    """Whether `written` is `printed` rounded to fewer decimals (16470.094976 → 16470.09 or 16470.1)."""
    if "." not in printed:
        return False
    decimals = len(written.partition(".")[2])
    try:
        return f"{float(printed):.{decimals}f}" == written
    except ValueError:
        return False


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or limit + 1 once it is certainly beyond `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]
