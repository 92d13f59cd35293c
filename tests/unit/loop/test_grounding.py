from __future__ import annotations

from collections.abc import Iterable

from codeloop.loop.grounding import Grounding


def streamed(grounding: Grounding, chunks: Iterable[str]) -> str:
    return "".join(grounding.feed(chunk) for chunk in chunks) + grounding.flush()


def test_a_dropped_digit_is_restored_in_the_texts_own_format() -> None:
    grounding = Grounding(["355687428096000\n"], ["What is 17 factorial?"])
    text = streamed(grounding, ["17! is 35,5", "68,742,8", "09,600."])
    assert text == "17! is 355,687,428,096,000."
    assert grounding.corrections == [("35,568,742,809,600", "355,687,428,096,000")]


def test_a_changed_digit_is_restored_without_separators_when_the_text_had_none() -> None:
    text = streamed(Grounding(["result: 83810205\n"]), ["12345 x 6789 = 83810215"])
    assert text == "12345 x 6789 = 83810205"


def test_right_numbers_roundings_and_short_numbers_stand() -> None:
    grounding = Grounding(["16470.094976\n5117\n"], ["Invest $10,000 at 5%"])
    text = "You will have $16,470.09 (about 16470.1), and 5118 is not 5117; $10,000 grew."
    assert streamed(grounding, [text]) == text
    assert grounding.corrections == []


def test_numbers_the_user_wrote_are_never_touched() -> None:
    grounding = Grounding(["123457\n"], ["Is 123456 prime?"])
    assert streamed(grounding, ["123456 is not prime."]) == "123456 is not prime."


def test_two_near_misses_leave_the_text_alone() -> None:
    grounding = Grounding(["100001\n100010\n"])
    assert streamed(grounding, ["It is 100011."]) == "It is 100011."


def test_without_printed_numbers_the_text_passes_through() -> None:
    grounding = Grounding(["done\n"])
    assert streamed(grounding, ["It is 35568742809600", "."]) == "It is 35568742809600."


def test_a_printed_number_with_misplaced_separators_is_regrouped() -> None:
    grounding = Grounding(["62700139367490865616\n"], ["What's 68,462,376,022 times 915,833,528?"])
    text = streamed(grounding, ["It is 627,001,393,674,9", "08,65616."])
    assert text == "It is 62,700,139,367,490,865,616."
    assert grounding.corrections == [("627,001,393,674,908,65616", "62,700,139,367,490,865,616")]


def test_conventional_groupings_and_short_lists_stand() -> None:
    grounding = Grounding(["1234567\n123\n"])
    text = "In lakhs 12,34,567; in thousands 1,234,567; the digits 1,2,3."
    assert streamed(grounding, [text]) == text
    assert grounding.corrections == []
