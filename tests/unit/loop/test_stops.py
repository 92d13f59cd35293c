from __future__ import annotations

import pytest

from codeloop.loop.stops import StopScanner


@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_stops_at_the_first_stop_sequence_however_the_text_is_split(size: int) -> None:
    text = "one two END three STOP four"
    scanner = StopScanner(("STOP", "END"))
    out = "".join(scanner.feed(text[i : i + size]) for i in range(0, len(text), size)) + scanner.flush()
    assert out == "one two "
    assert scanner.stopped


def test_a_partial_match_is_released_when_it_fails() -> None:
    scanner = StopScanner(("END",))
    assert scanner.feed("the EN") == "the "
    assert scanner.feed("D") == ""
    scanner = StopScanner(("END",))
    assert scanner.feed("the EN") == "the "
    assert scanner.feed("TRY") == "ENTRY"
    assert scanner.flush() == ""
    assert not scanner.stopped


def test_no_stops_passes_everything() -> None:
    scanner = StopScanner(())
    assert scanner.feed("abc") == "abc"
    assert scanner.flush() == ""
