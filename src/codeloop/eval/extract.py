"""Reading answers out of model replies: numbers, weekdays, dates, strings and Python programs.

Numbers, in order of preference (the first rule that finds one wins):
1. `#### 18`, GSM8K's own answer marker;
2. the last `\\boxed{18}`;
3. a number right after the last "answer is", "answer:" or "answer =" ("The final answer is **$18**.");
4. the last number equal to `printed`, what the code printed last, when the caller has it ("The
   program prints 360 hours in 4 weeks." answers 360, as a reader takes it);
5. the last bold number (`**18**`, `**$18.00**`, `**18 cleaners**`) in the last paragraph;
6. the last number in the text.
Commas, `$`, `%` and units are dropped, `18.0` equals `18`, and a minus sign counts only where it
cannot be a hyphen (`-5`, not the 5 of `10-5`). Dates are not numbers: `2024-03-05` and
`March 5, 2024` are skipped. Callers decide what to read when the text holds no answer (see
suites/base.py: the last code output).

A string answer (`olleh`, `GOOD MORNING`, `n`) is looked for rather than read: see gives_text.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

# Spelled out rather than taken from the calendar module, whose names follow the locale.
_DAY_NAMES = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday"
_MONTH_NAMES = "January February March April May June July August September October November December"
WEEKDAYS = tuple(_DAY_NAMES.split())
MONTHS = tuple(_MONTH_NAMES.split())

_NUMBER = re.compile(r"(?<![\w.])(?P<sign>[-−])?\$?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?(?!\d)")
_MARKER = re.compile(r"####\s*")
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_ANSWER = re.compile(r"\banswer\s*(?:is|:|=)\s*:?\s*(?:\*\*|\\\(|\\\[|\$(?!\d))*\s*", re.IGNORECASE)
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_MONTH = r"(?P<month>" + "|".join(m[:3] + r"(?:" + m[3:] + r")?\.?" for m in MONTHS) + r")"
_ISO_DATE = re.compile(r"\b(?P<year>\d{4})-(?P<mon>\d{1,2})-(?P<day>\d{1,2})\b")
_US_DATE = re.compile(
    r"\b" + _MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})\b", re.IGNORECASE
)
_EU_DATE = re.compile(r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+(?P<year>\d{4})\b", re.I)
_WEEKDAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b", re.IGNORECASE)
_OPEN_QUOTE = "\"'“‘`*"
_CLOSE_QUOTE = "\"'”’`*"
_QUOTED = re.compile(r"\*\*([^*\n]+)\*\*|`([^`\n]+)`|\"([^\"\n]+)\"|“([^”\n]+)”|(?<!\w)'([^'\n]+)'(?!\w)")
_FENCED = re.compile(r"^```[ \t]*(?:(?i:python3?|py))?[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def extract_number(text: str, printed: str | None = None) -> str | None:
    """The answer number of a reply, canonical (`1234.5`, `-3`, `18`), or None."""
    text = _blank_dates(text)
    if (marked := _MARKER.search(text)) and (number := _NUMBER.match(text, marked.end())):
        return _canonical(number)
    for box in reversed(_BOXED.findall(text)):
        if number := _NUMBER.search(box):
            return _canonical(number)
    for phrase in reversed(list(_ANSWER.finditer(text))):
        if number := _NUMBER.match(text, phrase.end()):
            return _canonical(number)
    numbers = list(_NUMBER.finditer(text))
    if printed is not None:
        for number in reversed(numbers):
            if numbers_equal(_canonical(number), printed):
                return _canonical(number)
    last_paragraph = re.split(r"\n\s*\n", text.strip())[-1]
    for bold in reversed(_BOLD.findall(last_paragraph)):
        if number := _NUMBER.match(bold.strip()):
            return _canonical(number)
    return _canonical(numbers[-1]) if numbers else None


def numbers_equal(answer: str | None, expected: str) -> bool:
    """Whether two numbers are equal as decimals (`18.0` is `18`; `1,000` is `1000`)."""
    if answer is None:
        return False
    try:
        return _decimal(answer) == _decimal(expected)
    except InvalidOperation:
        return False


def extract_weekday(text: str) -> str | None:
    """The last weekday named in the text, capitalized."""
    found = _WEEKDAY.findall(text)
    return found[-1].capitalize() if found else None


def extract_date(text: str) -> str | None:
    """The last valid date in the text (`2024-03-05`, `March 5, 2024`, `5 Mar 2024`), as ISO."""
    found: list[tuple[int, str]] = []
    for pattern in (_ISO_DATE, _US_DATE, _EU_DATE):
        for match in pattern.finditer(text):
            if (day := _date(match)) is not None:
                found.append((match.start(), day.isoformat()))
    return max(found)[1] if found else None


def gives_text(text: str, expected: str, bare_letter: bool = False) -> bool:
    """Whether `text` gives the string `expected`: quoted or emphasised (`'olleh'`, `"olleh"`,
    `` `olleh` ``, `**olleh**`), or standing as a whole token (`is olleh.`, not `olleho`).

    Case counts: asked to upper-case "good morning", the question's own words are not the answer. A
    single character counts bare only with `bare_letter` (for program output): in prose, the answer
    "a" would be found in every sentence with the article."""
    if not expected:
        return False
    escaped = re.escape(expected)
    quoted = rf"(?<!\w)[{re.escape(_OPEN_QUOTE)}]{escaped}[{re.escape(_CLOSE_QUOTE)}](?!\w)"
    if re.search(quoted, text):
        return True
    if len(expected) == 1 and not bare_letter:
        return False
    return re.search(rf"(?<!\w){escaped}(?!\w)", text) is not None


def extract_quoted(text: str) -> str | None:
    """The last quoted or emphasised span of the text: what a reply most likely offers as its answer."""
    spans = [next(group for group in match.groups() if group) for match in _QUOTED.finditer(text)]
    return spans[-1].strip() if spans else None


def extract_program(transcript: str, entry_point: str) -> str | None:
    """The code a reply offers for `entry_point`: the last fenced Python block that defines it, else
    the last fenced block (a body completing the prompt), else, in a reply without fences, the text
    from its `def` on."""
    blocks = _FENCED.findall(transcript)
    defining = [block for block in blocks if defines(block, entry_point)]
    if defining:
        return str(defining[-1])
    if blocks:
        return str(blocks[-1])
    if "```" not in transcript and (bare := _definition(entry_point).search(transcript)):
        return transcript[bare.start() :]
    return None


def defines(code: str, entry_point: str) -> bool:
    """Whether code defines the function `entry_point`."""
    return _definition(entry_point).search(code) is not None


def _definition(entry_point: str) -> re.Pattern[str]:
    return re.compile(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(entry_point)}[ \t]*\(", re.MULTILINE)


def _canonical(match: re.Match[str]) -> str:
    value = _decimal(match.group("int") + (match.group("frac") or ""))
    if match.group("sign"):
        value = -value
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _decimal(text: str) -> Decimal:
    return Decimal(text.strip().replace(",", "").replace("$", "").replace("−", "-"))


def _blank_dates(text: str) -> str:
    for pattern in (_ISO_DATE, _US_DATE, _EU_DATE):
        text = pattern.sub(lambda match: " " * len(match.group(0)), text)
    return text


def _date(match: re.Match[str]) -> date | None:
    fields = match.groupdict()
    if "mon" in fields:
        month = int(fields["mon"])
    else:
        month = [m[:3].lower() for m in MONTHS].index(fields["month"][:3].lower()) + 1
    try:
        return date(int(fields["year"]), month, int(fields["day"]))
    except ValueError:
        return None
