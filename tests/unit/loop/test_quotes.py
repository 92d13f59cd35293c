"""A quoted string the program copied with a typo is put back before it runs; nothing else is touched."""

from __future__ import annotations

import pytest

from codeloop.loop.quotes import restore_quotes

UPPER = 'Use Python to convert "hippopotamus mississippi" to uppercase.'


def test_a_misspelled_copy_is_restored_in_the_case_the_program_wrote_it() -> None:
    code = 'print("HIPPOTOBAMUS MISSISSIPPI".upper())\n'
    assert restore_quotes(code, UPPER) == 'print("HIPPOPOTAMUS MISSISSIPPI".upper())\n'


def test_a_lowercase_copy_in_a_variable_and_single_quotes() -> None:
    code = "text = 'hippopotamus misisippi'\nprint(text.upper())\n"
    assert restore_quotes(code, UPPER) == "text = 'hippopotamus mississippi'\nprint(text.upper())\n"


@pytest.mark.parametrize(
    ("code", "question"),
    [
        # exact copies, in any case
        ('print("hippopotamus mississippi".upper())\n', UPPER),
        ('print("HIPPOPOTAMUS MISSISSIPPI".lower())\n', UPPER),
        # what the program prints is its answer, right or wrong: never rewritten
        ('print("HIPPOTOBAMUS MISSISSIPPI")\n', UPPER),
        # too far from the quoted string to be a copy of it
        ('print("rhinoceros".upper())\n', UPPER),
        # short strings are as often other strings as typos
        ('print("kiwwi".count("i"))\n', 'How many i\'s are in "kiwi"?'),
        # an apostrophe is not a quote
        ('d = "valentines"\nprint(len(d))\n', "What weekday is Valentine's Day 2079? It's 'soon'."),
        # two quoted strings the literal is near: which one was meant is not clear
        ('print(len("colour"))\n', 'Compare "color" and "colours".'),
        # the literal equals one of the quoted strings: left alone
        ('print(sum(a != b for a, b in zip("color", "colour")))\n', 'How do "color" and "colour" differ?'),
        # not Python
        ("print('unclosed\n", UPPER),
    ],
)
def test_left_alone(code: str, question: str) -> None:
    assert restore_quotes(code, question) == code


def test_curly_quotes_and_other_lines_keep_their_bytes() -> None:
    question = "Reverse “accommodation” for me."
    code = "# naïve: slice it\nword = 'acommodation'\nprint(word[::-1])\n"
    assert restore_quotes(code, question) == "# naïve: slice it\nword = 'accommodation'\nprint(word[::-1])\n"
