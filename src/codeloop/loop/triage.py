"""Whether a question needs computing: numbers, counting, dates, conversions, data.

It errs towards code: a program for a question that did not need one costs a second; an answer
recalled instead of computed is often wrong (17! as 5040, 2^100 as "1,000,000,000"). Greetings,
requests for prose and questions about concepts stay with the model's words."""

from __future__ import annotations

import re

_DIGIT = re.compile(r"\d")
_COMPUTING = re.compile(
    r"\b("
    r"how (many|much|long|old|far)|count|number of|calculat\w*|comput\w*|sum|total|add(ed)? up|"
    r"product|multipl\w*|divid\w*|times|plus|minus|squared?|cubed?|roots?|power|factorial|"
    r"primes?|divisors?|factors?|gcd|lcm|fibonacci|digits?|average|mean|median|mode|variance|"
    r"standard deviation|percent\w*|percentile|ratio|interest|loan|payment|mortgage|profit|"
    r"convert|conversion|miles?|kilomet\w*|pounds?|kilograms?|fahrenheit|celsius|"
    r"day of the week|weekday|which day|what day|date|days|weeks|months|years|leap|"
    r"solve|equation|derivative|integral|integrate|differentiate|limit|matrix|probability|"
    r"letters?|characters?|vowels?|consonants?|words?|reverse\w*|sort\w*|occurr\w*|appear\w*|"
    r"spelled backwards?|backwards|in reverse|replac\w* (every|each|all)|upper ?case|lower ?case|"
    r"palindrom\w*|anagrams?|"
    r"code|program|python|script|run"
    r")\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"sixty|seventy|eighty|ninety|hundred|thousand|million|billion|first|second|third)\b",
    re.IGNORECASE,
)


def needs_code(question: str, has_files: bool = False) -> bool:
    """Whether the answer to `question` should come from a program rather than from memory."""
    if has_files:
        return True
    words = _COMPUTING.search(question) is not None
    numbers = _DIGIT.search(question) is not None or _NUMBER_WORDS.search(question) is not None
    return words or (numbers and len(question) < 400)
