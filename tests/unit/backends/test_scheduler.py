"""The continuous-batching scheduler against a fake context: admission, fairness, slot reuse and
eviction, cancellation, and the lanes of one job."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from codeloop.backends.prefix import chunk_starts
from codeloop.backends.scheduler import Job, Lane, Row, Scheduler
from codeloop.backends.slots import SlotTable

CHUNK = 4
OPENER = [900, 901]  # where an assistant message's text begins, as in prefix.chunk_starts


class FakeContext:
    """Records each decode; holds at most `cells` cells; the next token is the row's token + 1."""

    def __init__(self, cells: int = 1000) -> None:
        self.cells = cells
        self.held: dict[int, set[int]] = {}
        self.decodes: list[list[Row]] = []
        self.last: list[Row] = []

    def decode(self, rows: Sequence[Row]) -> bool:
        if self.used() + len(rows) > self.cells:
            return False
        for row in rows:
            self.held.setdefault(row.sequence, set()).add(row.position)
        self.decodes.append(list(rows))
        self.last = [row for row in rows if row.logits]
        return True

    def forget(self, sequence: int, start: int) -> None:
        self.held[sequence] = {p for p in self.held.get(sequence, set()) if p < start}

    def share(self, source: int, target: int, tokens: int) -> None:
        self.held[target] = {p for p in self.held.get(source, set()) if p < tokens}

    def room(self, sequence: int) -> int:
        return self.cells - self.used()

    def used(self) -> int:
        return sum(len(positions) for positions in self.held.values())

    def token(self, row: int) -> int:
        return self.last[row].token + 1


class Written:
    """A lane's output: the tokens it took, ending after `budget`."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.tokens: list[int] = []

    def take(self, token: int, row: int) -> bool:
        self.tokens.append(token)
        return len(self.tokens) < self.budget

    def cut(self, budget: int) -> None:
        self.budget = min(self.budget, budget)


class Run:
    """A scheduler over a FakeContext, and the jobs it has finished."""

    def __init__(self, slots: int = 2, forks: int = 2, cells: int = 1000, chunk: int = CHUNK) -> None:
        self.context = FakeContext(cells)
        self.chunk = chunk
        self.scheduler = Scheduler(self.context, slots, range(slots, slots + forks), chunk)
        self.finished: list[tuple[Job, Exception | None]] = []

    def job(self, prompt: list[int], budget: int = 3, lanes: int = 1) -> Job:
        outputs = [Written(budget) for _ in range(lanes)]
        job = Job(
            prompt,
            chunk_starts(prompt, [OPENER], self.chunk),
            [Lane(self.context.token, output) for output in outputs],
            lambda error: self.finished.append((job, error)),
        )
        self.scheduler.submit(job)
        return job

    def until_idle(self, limit: int = 100) -> None:
        for _ in range(limit):
            if self.scheduler.idle:
                return
            self.scheduler.step()
        raise AssertionError("the scheduler did not finish")


def written(job: Job, lane: int = 0) -> list[int]:
    output = job.lanes[lane].output
    assert isinstance(output, Written)
    return output.tokens


def test_two_jobs_decode_their_tokens_in_one_decode() -> None:
    run = Run()
    a, b = run.job([1, 2, 3], budget=3), run.job([11, 12, 13], budget=3)
    run.until_idle()
    assert written(a) == [4, 5, 6] and written(b) == [14, 15, 16]
    together = [rows for rows in run.context.decodes if {r.sequence for r in rows} == {0, 1}]
    assert together  # the two jobs' tokens, side by side in one llama_decode
    assert [error for _, error in run.finished] == [None, None]


def test_a_prompt_chunk_is_decoded_alone() -> None:
    run = Run()
    run.job([1, 2, 3], budget=20)
    run.scheduler.step()
    run.job(list(range(100, 110)), budget=2)  # 10 tokens: chunks of 4, 4, 2
    run.until_idle()
    for rows in run.context.decodes:
        prompt_rows = [row for row in rows if not row.logits]
        if prompt_rows:  # a chunk: one sequence, logits for its last row alone
            assert len({row.sequence for row in rows}) == 1
            assert [row.logits for row in rows] == [False] * (len(rows) - 1) + [True]
            assert len(rows) <= CHUNK


def test_a_long_prompt_does_not_hold_back_the_others_tokens() -> None:
    """Chunk by chunk: between two chunks of a long prompt, every generating lane decodes a token."""
    run = Run()
    short = run.job([1, 2], budget=50)
    run.scheduler.step()
    run.job(list(range(100, 120)), budget=1)  # five chunks
    run.until_idle()
    chunks = [i for i, rows in enumerate(run.context.decodes) if rows[0].sequence == 1 and len(rows) > 1]
    assert len(chunks) == 5
    for before, after in itertools.pairwise(chunks):
        between = run.context.decodes[before + 1 : after]
        assert any(row.sequence == 0 for rows in between for row in rows)
    assert len(written(short)) == 50


def test_prompts_take_turns_chunk_by_chunk() -> None:
    """A short prompt that arrives behind a long one gets its first token before the long one ends."""
    run = Run()
    long = run.job(list(range(100, 132)), budget=1)  # eight chunks
    short = run.job([1, 2, 3], budget=1)
    order: list[Job] = []
    while not run.scheduler.idle:
        run.scheduler.step()
        order += [job for job, _ in run.finished if job not in order]
    assert order == [short, long]


def test_with_every_slot_busy_a_request_waits_its_turn() -> None:
    run = Run(slots=1)
    first, second, third = run.job([1, 2]), run.job([5, 6]), run.job([8, 9])
    run.scheduler.step()
    assert run.scheduler.running == [first] and list(run.scheduler.waiting) == [second, third]
    run.until_idle()
    assert [job for job, _ in run.finished] == [first, second, third]


def test_the_next_turn_of_a_conversation_finds_its_slot_and_evaluates_only_what_is_new() -> None:
    run = Run(slots=3)
    turn = [1, 2, 3, 4, 5, 900, 901]  # a prompt ending where the reply begins
    first = run.job(turn, budget=3)
    other = run.job([50, 51, 52], budget=3)
    run.until_idle()
    slot = first.slot
    assert slot is not None and slot.tokens == [*turn, 902, 903]  # the last sampled one is not decoded
    reply = written(first)
    second = run.job([*turn, *reply, 7, 7, 900, 901], budget=2)
    run.until_idle()
    assert second.slot is slot and other.slot is not slot
    # Kept: up to the start of the reply, the chunk start where the cache stops matching its chunks.
    assert second.stats.prefill_tokens == len(second.prompt) - len(turn)
    assert second.stats.held_tokens == len(turn) + 2


def test_a_new_conversation_takes_an_empty_slot_before_evicting_an_idle_one() -> None:
    table = SlotTable(range(2))
    starts = [0]
    a = table.claim([1, 2, 3], starts)
    assert a is not None
    a.slot.tokens = [1, 2, 3]
    table.release(a.slot)
    b = table.claim([7, 8, 9], starts)
    assert b is not None and b.slot is not a.slot
    b.slot.tokens = [7, 8, 9]
    table.release(b.slot)
    c = table.claim([4, 5, 6], starts)  # both hold cells: the least recently used goes
    assert c is not None and c.slot is a.slot and c.kept == 0


def test_a_question_sharing_only_the_system_prompt_leaves_the_other_conversation_its_slot() -> None:
    table = SlotTable(range(2))
    system = [1, 2, 3, 4]
    first = [*system, 10, 11, 900, 901]
    a = table.claim(first, [0, 4])
    assert a is not None
    a.slot.tokens, a.slot.chunked = [*first, 12, 13], len(first)
    table.release(a.slot)
    b = table.claim([*system, 20, 21, 900, 901], [0, 4])
    assert b is not None and b.slot is not a.slot and b.kept == 0  # an empty slot, not a's
    b.slot.tokens, b.slot.chunked = [*system, 20, 21, 900, 901, 22], 8
    table.release(b.slot)
    # a's next turn finds its slot whole.
    again = table.claim([*first, 12, 13, 7, 900, 901], [0, 4, 8])
    assert again is not None and again.slot is a.slot and again.kept == len(first)
    # With no slot empty, the least recently used goes, keeping the system prompt it shares.
    table.release(again.slot)
    c = table.claim([*system, 30, 900, 901], [0, 4])
    assert c is not None and c.slot is b.slot and c.kept == 4


def test_no_slot_when_all_are_busy() -> None:
    table = SlotTable(range(1))
    assert table.claim([1], [0]) is not None
    assert table.claim([2], [0]) is None


def test_a_full_cache_empties_idle_slots_first() -> None:
    run = Run(slots=2, cells=12)
    first = run.job([1, 2, 3, 4, 5, 6], budget=2)
    run.until_idle()
    assert first.slot is not None and first.slot.tokens
    second = run.job([20, 21, 22, 23, 24, 25, 26, 27], budget=2)
    run.until_idle()
    assert second.slot is not first.slot
    assert first.slot.tokens == []  # evicted to make room
    assert len(written(second)) == 2 and run.finished[-1][1] is None


def test_a_prompt_that_cannot_fit_fails_alone() -> None:
    run = Run(slots=2, cells=6)
    big = run.job(list(range(100, 110)), budget=2)
    run.until_idle()
    assert run.finished[-1][0] is big and run.finished[-1][1] is not None
    small = run.job([1, 2], budget=2)
    run.until_idle()
    assert written(small) == [3, 4] and run.finished[-1][1] is None


def test_a_stopped_job_frees_its_slot_for_the_next() -> None:
    run = Run(slots=1)
    endless, waiting = run.job([1, 2], budget=10_000), run.job([5, 6], budget=2)
    for _ in range(5):
        run.scheduler.step()
    assert run.scheduler.running == [endless]
    endless.stop.set()
    run.until_idle()
    assert [job for job, _ in run.finished] == [endless, waiting]
    assert written(waiting) == [7, 8]
    assert not any(slot.busy for slot in run.scheduler.table.slots)


def test_a_stopped_job_still_waiting_never_runs() -> None:
    run = Run(slots=1)
    run.job([1, 2], budget=3)
    queued = run.job([5, 6], budget=3)
    queued.stop.set()
    run.until_idle()
    assert written(queued) == [] and (queued, None) in run.finished


def test_the_lanes_of_one_job_write_the_first_then_the_others_together() -> None:
    run = Run(slots=1, forks=2)
    job = run.job([1, 2, 3], budget=3, lanes=3)
    run.until_idle()
    # Every lane's first token comes from the prompt's logits.
    assert [written(job, lane)[0] for lane in range(3)] == [4, 4, 4]
    first_lane = [rows for rows in run.context.decodes if rows[0].sequence == 0 and len(rows) == 1]
    forks = [rows for rows in run.context.decodes if {r.sequence for r in rows} == {1, 2}]
    assert len(first_lane) == 2 and len(forks) == 2
    assert run.context.decodes.index(first_lane[-1]) < run.context.decodes.index(forks[0])
    assert run.context.held.get(1) == set() and run.context.held.get(2) == set()  # freed


def test_a_job_with_more_lanes_than_the_context_holds_is_refused() -> None:
    run = Run(slots=1, forks=2)
    with pytest.raises(ValueError, match="at most 3 lanes"):
        run.job([1, 2], lanes=4)


def test_an_empty_slot_is_seeded_with_the_system_prompt_another_slot_holds() -> None:
    system = list(range(1, 41))  # longer than SEED_MIN_TOKENS
    run = Run(slots=2)
    first = run.job([*system, 50, 51, 900, 901], budget=2)
    run.until_idle()
    second = run.job([*system, 60, 61, 900, 901], budget=2)
    run.until_idle()
    assert first.slot is not None and second.slot is not None and second.slot is not first.slot
    assert second.stats.prefill_tokens == 4  # the system prompt came from the first slot
    assert run.context.held[second.slot.id] == set(range(len(second.prompt) + 1))
    assert second.slot.tokens[: len(system)] == system
    # Nothing decoded the system prompt into the second slot: its first decode starts after it.
    second_rows = [rows for rows in run.context.decodes if rows[0].sequence == second.slot.id]
    assert second_rows[0][0].position == len(system)
    # The first conversation keeps its own cells.
    assert run.context.held[first.slot.id] == set(range(len(first.prompt) + 1))


def test_a_short_shared_start_is_evaluated_again_rather_than_copied() -> None:
    system = [1, 2, 3, 4]
    run = Run(slots=2)
    run.job([*system, 50, 51, 900, 901], budget=2)
    run.until_idle()
    second = run.job([*system, 60, 61, 900, 901], budget=2)
    run.until_idle()
    assert second.stats.prefill_tokens == len(second.prompt)


def test_a_busy_slot_seeds_a_new_question_while_it_generates() -> None:
    system = list(range(1, 41))
    run = Run(slots=2)
    long = run.job([*system, 50, 900, 901], budget=50)
    for _ in range(20):
        run.scheduler.step()
    assert long.slot is not None and long.slot.busy
    other = run.job([*system, 70, 900, 901], budget=2)
    run.until_idle()
    assert other.stats.prefill_tokens == 3
    assert len(written(long)) == 50 and written(other)


def test_questions_arriving_together_evaluate_their_shared_system_prompt_once() -> None:
    system = list(range(1, 41))
    run = Run(slots=3, chunk=64)
    jobs = [run.job([*system, 900, 901, 50 + i, 60 + i], budget=2) for i in range(3)]
    run.until_idle()
    first, *others = jobs
    assert first.stats.prefill_tokens == len(first.prompt)
    # The others were admitted beside it, with nothing to copy yet; by their turn it had the
    # system prompt, so they copied it and evaluated only their question.
    assert [job.stats.prefill_tokens for job in others] == [2, 2]  # what follows the opener
    system_rows = [rows for rows in run.context.decodes if len(rows) >= len(system)]
    assert len(system_rows) == 1
    assert all(written(job) for job in jobs)
