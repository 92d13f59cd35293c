from __future__ import annotations

from codeloop.backends.base import Sample
from codeloop.backends.continuation import RANDOM_SEED, Continuation, sample_seeds


def never(text: str) -> bool:
    return False


def test_ends_when_until_holds_with_the_token_that_made_it() -> None:
    continuation = Continuation(lambda text: text.endswith("```\n"), budget=100)
    for piece in (b"```python\n", b"print(1)\n", b"```\n"):
        continuation.add(piece)
    assert continuation.sample() == Sample("```python\nprint(1)\n```\n", "STOP", 3)


def test_ends_at_its_budget() -> None:
    continuation = Continuation(never, budget=2)
    continuation.add(b"a")
    assert continuation.live
    continuation.add(b"b")
    assert continuation.sample() == Sample("ab", "MAX_TOKENS", 2)


def test_a_zero_budget_ends_before_any_token() -> None:
    assert Continuation(never, budget=0).sample() == Sample("", "MAX_TOKENS", 0)


def test_the_end_of_turn_is_a_stop_and_not_text() -> None:
    continuation = Continuation(never, budget=5)
    continuation.add(b"done")
    continuation.end_of_turn()
    assert continuation.sample() == Sample("done", "STOP", 1)


def test_a_character_split_across_tokens_is_whole_in_the_text() -> None:
    seen: list[str] = []

    def record(text: str) -> bool:
        seen.append(text)
        return False

    continuation = Continuation(record, budget=5)
    euro = "€".encode()
    continuation.add(euro[:1])
    continuation.add(euro[1:])
    assert seen == ["", "€"]
    # Cut before the character completes, the stray byte shows as a replacement character.
    cut = Continuation(never, budget=1)
    cut.add(euro[:2])
    assert cut.sample() == Sample("\ufffd", "MAX_TOKENS", 1)


def test_cut_lowers_the_budget_and_ends_a_spent_continuation() -> None:
    continuation = Continuation(never, budget=10)
    continuation.add(b"a")
    continuation.cut(5)
    assert continuation.live
    continuation.cut(1)
    assert continuation.sample() == Sample("a", "MAX_TOKENS", 1)
    stopped = Continuation(lambda text: True, budget=10)
    stopped.add(b"x")
    stopped.cut(0)
    assert stopped.sample().finish_reason == "STOP"


def test_seeds_are_distinct_and_follow_the_request_seed() -> None:
    seeds = sample_seeds(7, 8)
    assert len(seeds) == 7 and len(set(seeds)) == 7
    assert sample_seeds(7, 8) == seeds
    assert sample_seeds(7, 3) == seeds[:2]  # a sample's seed does not depend on how many there are
    assert sample_seeds(8, 8) != seeds
    assert sample_seeds(7, 1) == []
    assert all(0 <= seed < RANDOM_SEED for seed in seeds)


def test_without_a_request_seed_each_call_draws_new_seeds() -> None:
    assert sample_seeds(None, 4) != sample_seeds(None, 4)
